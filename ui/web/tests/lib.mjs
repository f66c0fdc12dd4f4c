// Shared by the browser test and the endurance run: start a real engine from a private copy of
// topology.ron, talk to the supervisor CLI, drive Debian's chromium with playwright-core.

import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../../..');
export const RESULTS = path.resolve(HERE, '../test-results');
export const SUPERVISOR = process.env.SUPERVISOR ? path.resolve(process.env.SUPERVISOR) : path.join(REPO, 'target/release/supervisor');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free loopback TCP port (bound then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A private copy of the repository's topology.ron: unique engine name, its own shared-memory
 * base, free ports for the venue and the UI, config paths made absolute (they are relative to
 * the topology file), the token file in the temp folder.
 */
export async function privateTopology(tag) {
  const src = fs.readFileSync(path.join(REPO, 'topology.ron'), 'utf8');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`));
  const shmBase = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), `${tag}-`));
  fs.chmodSync(shmBase, 0o700);
  const engine = `${tag}-${process.pid}`.slice(0, 31);
  const uiPort = await freePort();
  const tokenFile = path.join(work, 'ui.token');
  let ron = src
    .replace(/engine:\s*"[^"]*"/, `engine: "${engine}"`)
    .replace(/shm_dir:\s*(Some\("[^"]*"\)|None)/, `shm_dir: Some("${shmBase}")`);
  // the UI's address gets uiPort; every other "127.0.0.1:NNNN" (venue order/md) a free port
  const ui = ron.match(/(ui:\s*Some\(\(\s*addr:\s*)"127\.0\.0\.1:\d+"/);
  if (ui) ron = ron.replace(ui[0], `${ui[1]}"127.0.0.1:${uiPort}"`);
  const others = [...new Set(ron.match(/"127\.0\.0\.1:\d+"/g) ?? [])].filter((a) => a !== `"127.0.0.1:${uiPort}"`);
  for (const a of others) ron = ron.split(a).join(`"127.0.0.1:${await freePort()}"`);
  ron = ron.replace(/token_file:\s*(Some\("[^"]*"\)|None)/, `token_file: Some("${tokenFile}")`);
  // relative config paths → absolute (relative to the original topology's folder)
  ron = ron.replace(/config:\s*"([^"/][^"]*)"/g, (_m, p) => `config: "${path.join(REPO, p)}"`);
  ron = ron.replace(/config:\s*Some\("([^"/][^"]*)"\)/g, (_m, p) => `config: Some("${path.join(REPO, p)}")`);
  // Paths the topology does not spell out (strategy, costs) resolve from its folder: give the
  // copy the repository's config folder (read-only use; journals land in the temp folder).
  fs.symlinkSync(path.join(REPO, 'config'), path.join(work, 'config'));
  const file = path.join(work, 'topology.ron');
  fs.writeFileSync(file, ron);
  const uiAddr = (ron.match(/ui:\s*Some\(\(addr:\s*"([^"]+)"/) ?? [])[1] ?? null;
  return { file, work, shmBase, engine, uiAddr, tokenFile };
}

/** Run a supervisor subcommand; resolves { code, stdout, stderr }. */
export function cli(args, timeoutMs = 20_000) {
  return new Promise((resolve) => {
    execFile(SUPERVISOR, args, { timeout: timeoutMs, cwd: REPO }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `supervisor status --json` (it exits 4 while the engine is HALTED and still prints the JSON). */
export async function status(topo) {
  const r = await cli(['status', '--json', '--topology', topo.file]);
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    return { error: `status exit ${r.code}, no JSON (${e.message}): ${r.stderr.trim()} ${r.stdout.slice(0, 200)}` };
  }
}

/** `supervisor start` in the background; its output goes to a log file in the work folder. */
export function startEngine(topo) {
  if (!fs.existsSync(SUPERVISOR)) {
    throw new Error(`${SUPERVISOR} missing: build it first (cargo build --release -p supervisor)`);
  }
  const log = fs.openSync(path.join(topo.work, 'supervisor.log'), 'w');
  const child = spawn(SUPERVISOR, ['start', '--topology', topo.file], {
    cwd: REPO,
    stdio: ['ignore', log, log],
  });
  child.exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  return child;
}

export function engineLog(topo) {
  try {
    return fs.readFileSync(path.join(topo.work, 'supervisor.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Poll `fn` until it returns a truthy value or `ms` pass; returns the value or null. */
export async function until(fn, ms, every = 200) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(every);
  }
}

/** Stop the engine (CLI stop, then SIGTERM, then SIGKILL) and remove the temp folders. */
export async function stopEngine(topo, child) {
  if (child && child.exitCode === null && child.signalCode === null) {
    await cli(['stop', '--topology', topo.file], 15_000);
    const done = await Promise.race([child.exited, sleep(10_000).then(() => null)]);
    if (!done) {
      child.kill('SIGTERM');
      const d2 = await Promise.race([child.exited, sleep(5_000).then(() => null)]);
      if (!d2) child.kill('SIGKILL');
    }
  }
  fs.rmSync(topo.shmBase, { recursive: true, force: true });
  if (!process.env.KEEP_WORK) fs.rmSync(topo.work, { recursive: true, force: true });
}

/** Debian's chromium, headless, with a fresh profile. */
export async function launchBrowser(viewport) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cockpit-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--enable-precise-memory-info',
    ],
  });
  const close = async () => {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}

/** A raw HTTP request from Node (sets any header, Origin included). */
export function request(url, { method = 'GET', headers = {}, body = '' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** Try a WebSocket upgrade; resolves the HTTP status of the answer (101 = accepted). */
export function upgradeStatus(url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A value from the Prometheus text (first sample of `name`, optional label filter). */
export function metric(text, name, label) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (label && !rest.includes(label)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

/** Tiny test runner: named checks, a summary line `N passed, N failed`, exit code. */
export function runner() {
  let passed = 0;
  let failed = 0;
  return {
    check(name, ok, detail = '') {
      if (ok) {
        passed += 1;
        console.log(`ok   ${name}`);
      } else {
        failed += 1;
        console.log(`FAIL ${name}${detail ? `: ${detail}` : ''}`);
      }
      return ok;
    },
    /** `fn` returns true (pass), or a string saying what is wrong (fail); a throw fails. */
    async step(name, fn) {
      try {
        const r = await fn();
        return this.check(name, r === true, typeof r === 'string' ? r : `returned ${String(r)}`);
      } catch (e) {
        return this.check(name, false, e?.message ?? String(e));
      }
    },
    finish() {
      console.log(`${passed} passed, ${failed} failed`);
      return failed === 0 ? 0 : 1;
    },
  };
}
