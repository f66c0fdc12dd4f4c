// The cockpit against the real engine, in Debian's chromium (make browser-test).
//
// Starts `supervisor start` on a private copy of topology.ron (unique engine name, free ports),
// opens the cockpit, waits until every panel shows live data (canvases drawn in their series
// colours, numbers changing), saves screenshots at 1920x1080 and 1366x768 in
// ui/web/test-results/, checks that control actions without the token or from a foreign
// Origin are refused, presses the kill switch through the page with its confirmation, and
// confirms through `supervisor status --json` that the engine halted and that Execution sent
// no order after the flag. Ends with `N passed, N failed`; exit 1 on any failure.

import fs from 'node:fs';
import path from 'node:path';
import {
  RESULTS,
  engineLog,
  launchBrowser,
  metric,
  privateTopology,
  request,
  runner,
  sleep,
  startEngine,
  status,
  stopEngine,
  until,
  upgradeStatus,
} from './lib.mjs';

const t = runner();
const WATCHDOG_MS = 240_000;
const watchdog = setTimeout(() => {
  t.check('the browser test finished within 240 s', false);
  t.finish();
  process.exit(1);
}, WATCHDOG_MS);

fs.mkdirSync(RESULTS, { recursive: true });
const topo = await privateTopology('cockpit-bt');
let engine = null;
let browser = null;

// Series colours (see src/charts): a canvas shows data when it has pixels of these.
const RTT_BLUE = [76, 201, 240];
const WOBI_GREEN = [144, 190, 109];
const ENTROPY_ORANGE = [244, 162, 97];
const ATTACK = [46, 196, 182];
const VETO = [239, 71, 111];

/** Pixels of `canvas` (by test id, or the first canvas inside it) close to one of `colours`. */
async function colourPixels(page, testId, colours) {
  return page.evaluate(
    ([id, cols]) => {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (!el) return -1;
      const canvases = el.tagName === 'CANVAS' ? [el] : [...el.querySelectorAll('canvas')];
      let n = 0;
      for (const c of canvases) {
        const ctx = c.getContext('2d');
        if (!ctx || c.width === 0 || c.height === 0) continue;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] < 200) continue;
          for (const [r, g, b] of cols) {
            if (Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60) {
              n++;
              break;
            }
          }
        }
      }
      return n;
    },
    [testId, colours],
  );
}

/** Share of the heatmap's pixels that are cells with data (not the empty colour). */
async function heatmapFilled(page) {
  return page.evaluate(() => {
    const c = document.querySelector('[data-testid="wobi-heatmap"]');
    const ctx = c?.getContext('2d');
    if (!ctx || c.width === 0) return 0;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let filled = 0;
    for (let i = 0; i < d.length; i += 4) {
      // empty cells are (16,20,28) or the darker separators
      if (Math.abs(d[i] - 16) + Math.abs(d[i + 1] - 20) + Math.abs(d[i + 2] - 28) > 30 && d[i] + d[i + 1] + d[i + 2] > 60) filled++;
    }
    return filled / (d.length / 4);
  });
}

const text = (page, id) => page.locator(`[data-testid="${id}"]`).first().innerText().catch(() => '');

try {
  await t.step('engine starts from a private copy of topology.ron', async () => {
    engine = startEngine(topo);
    const st = await until(async () => {
      if (engine.exitCode !== null) return { error: 'supervisor exited' };
      const s = await status(topo);
      return s.state === 'RUNNING' && s.ui_url ? s : null;
    }, 90_000, 500);
    if (!st || st.error) {
      throw new Error(`not RUNNING with a UI: ${st?.error ?? 'timeout'}\n--- supervisor log ---\n${engineLog(topo).slice(-3000)}`);
    }
    topo.url = st.ui_url.endsWith('/') ? st.ui_url : `${st.ui_url}/`;
    return true;
  });
  if (!topo.url) throw new Error('no engine: stopping here');
  const base = topo.url.replace(/\/$/, '');
  const origin = new URL(topo.url).origin;
  const token = fs.readFileSync(topo.tokenFile, 'utf8').trim();

  browser = await launchBrowser({ width: 1920, height: 1080 });
  const page = browser.ctx.pages()[0] ?? (await browser.ctx.newPage());
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(topo.url);

  await t.step('the page connects with the injected token (LIVE)', async () => {
    const ok = await until(async () => (await text(page, 'link-state')).includes('LIVE'), 20_000);
    return ok ? true : `link state: ${await text(page, 'link-state')}`;
  });

  // Live data in every panel: canvases drawn in their series colours, numbers changing.
  await t.step('every panel shows live data', async () => {
    // Numbers that move while the engine runs. The simulated market does not make the strategy
    // trade all the time, so Sentinel's round trip and Execution's order count may stand still
    // for a while; the actor table (context switches, heartbeats) and Execution's decisions not
    // to quote (blocked counters) are live data of those panels too.
    const probes = {
      sentinel: ['rtt-last', 'actor-table'],
      oracle: ['wobi', 'strength', 'imbalance'],
      sonar: ['entropy', 'md-events'],
      execution: ['orders-sent', 'pnl-net', 'fill-rate', 'position', 'blocked'],
    };
    const first = {};
    for (const [panel, ids] of Object.entries(probes)) first[panel] = await Promise.all(ids.map((id) => text(page, id)));
    const problems = [];
    const done = await until(async () => {
      problems.length = 0;
      for (const [panel, ids] of Object.entries(probes)) {
        const now = await Promise.all(ids.map((id) => text(page, id)));
        if (!now.some((v, i) => v !== first[panel][i] && v !== '—')) problems.push(`${panel}: numbers not changing (${now.join(' | ')})`);
      }
      if ((await colourPixels(page, 'rtt-chart', [RTT_BLUE])) < 50) problems.push('sentinel: RTT graph empty');
      if ((await heatmapFilled(page)) < 0.05) problems.push('oracle: WOBI heatmap empty');
      if ((await colourPixels(page, 'signal-chart', [WOBI_GREEN])) < 30) problems.push('oracle: signal chart empty');
      if ((await colourPixels(page, 'regime-strip', [ATTACK, VETO])) < 30) problems.push('sonar: regime strip empty');
      if ((await colourPixels(page, 'entropy-chart', [ENTROPY_ORANGE])) < 30) problems.push('sonar: entropy chart empty');
      const hist = await page.locator('[data-testid="hist-table"] tbody tr').count();
      if (hist === 0) problems.push('latency: no histograms');
      return problems.length === 0;
    }, 60_000, 1000);
    return done ? true : problems.join('; ');
  });

  // The default engine's Oracle quotes on the venue's tick, so no signal is refused as malformed;
  // it runs no user strategy actor, so no intent arrives. The page and /metrics must say so with
  // numbers (a missing field shows as a dash, a missing series as null).
  await t.step('Execution shows zero malformed signals and zero intents, as /metrics does', async () => {
    const m = await request(`${base}/metrics`);
    const series = {
      signals: metric(m.body, 'engine_signals_refused_total'),
      received: metric(m.body, 'engine_intents_total', 'outcome="received"'),
      refused: metric(m.body, 'engine_intents_total', 'outcome="refused"'),
    };
    if (Object.values(series).some((v) => v !== 0)) return `/metrics: ${JSON.stringify(series)}`;
    const shown = await Promise.all(['intents', 'refused-intent', 'refused-signal'].map((id) => text(page, id)));
    const want = [/^0 of 0$/, /^intent\s+0$/i, /^signal\s+0$/i];
    if (!want.every((re, i) => re.test(shown[i].trim()))) return `page: ${shown.join(' | ')}`;
    return true;
  });

  await t.step('screenshots at 1920x1080 and 1366x768', async () => {
    await page.screenshot({ path: path.join(RESULTS, 'cockpit-1920x1080.png') });
    await page.setViewportSize({ width: 1366, height: 768 });
    await sleep(1500);
    await page.screenshot({ path: path.join(RESULTS, 'cockpit-1366x768.png') });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > innerWidth || document.documentElement.scrollHeight > innerHeight);
    await page.setViewportSize({ width: 1920, height: 1080 });
    return overflow ? 'the page scrolls at 1366x768' : true;
  });

  await t.step('control actions without the token or from a foreign Origin are refused', async () => {
    const json = { 'content-type': 'application/json' };
    const cases = [
      ['kill, no token', '/api/kill', { ...json, origin }, 401],
      ['kill, wrong token', '/api/kill', { ...json, origin, authorization: 'Bearer ' + '0'.repeat(64) }, 401],
      ['kill, foreign Origin', '/api/kill', { ...json, origin: 'http://evil.example', authorization: `Bearer ${token}` }, 403],
      ['kill, no Origin', '/api/kill', { ...json, authorization: `Bearer ${token}` }, 403],
      ['rearm, foreign Origin', '/api/rearm', { ...json, origin: 'http://evil.example', authorization: `Bearer ${token}` }, 403],
    ];
    const bad = [];
    for (const [what, p, headers, want] of cases) {
      const r = await request(base + p, { method: 'POST', headers, body: '{"reason":"should be refused"}' });
      if (r.status !== want) bad.push(`${what}: ${r.status} (want ${want})`);
    }
    const wsForeign = await upgradeStatus(`${base}/ws`, { origin: 'http://evil.example', 'sec-websocket-protocol': `cockpit.v1, token.${token}` });
    if (wsForeign !== 403) bad.push(`ws from a foreign Origin: ${wsForeign}`);
    const wsNoToken = await upgradeStatus(`${base}/ws`, { origin, 'sec-websocket-protocol': 'cockpit.v1' });
    if (wsNoToken !== 401) bad.push(`ws without token: ${wsNoToken}`);
    // A page on another origin cannot act either: its fetch carries its own Origin.
    const st = await status(topo);
    if (st.kill_switch?.set) bad.push('a refused request set the kill switch');
    return bad.length ? bad.join('; ') : true;
  });

  let ordersAtHalt = null;
  await t.step('the kill switch needs its confirmation', async () => {
    await page.click('[data-testid="kill-button"]');
    const go = page.locator('[data-testid="confirm-go"]');
    await go.waitFor({ timeout: 5000 });
    if (!(await go.isDisabled())) return 'confirm enabled before typing';
    await page.fill('[data-testid="confirm-input"]', 'kill');
    if (!(await go.isDisabled())) return 'confirm enabled for lower-case "kill"';
    await page.keyboard.press('Enter');
    if ((await status(topo)).kill_switch?.set) return 'Enter on a wrong word killed the engine';
    await page.fill('[data-testid="confirm-input"]', 'KILL');
    if (await go.isDisabled()) return 'confirm still disabled after typing KILL';
    await page.fill('[data-testid="kill-reason"]', 'browser test');
    await page.screenshot({ path: path.join(RESULTS, 'cockpit-kill-confirm.png') });
    await go.click();
    return true;
  });

  await t.step('supervisor status --json: engine HALTED, kill set by the cockpit, every hot actor HALTED', async () => {
    let last = null;
    const st = await until(async () => {
      last = await status(topo);
      const hot = (last.actors ?? []).filter((a) => a.kind !== 'ui');
      return last.state === 'HALTED' && last.kill_switch?.set && hot.length > 0 && hot.every((a) => a.state === 'HALTED') ? last : null;
    }, 15_000, 100);
    if (!st) return `status: ${JSON.stringify({ state: last?.state, kill: last?.kill_switch, actors: last?.actors?.map((a) => `${a.name}:${a.state}`) })}`;
    const m = await request(`${base}/metrics`);
    ordersAtHalt = metric(m.body, 'engine_orders_sent_total');
    if (st.kill_switch.by !== 'cockpit') return `kill by ${st.kill_switch.by}`;
    if (st.kill_switch.reason !== 'browser test') return `reason ${st.kill_switch.reason}`;
    return true;
  });

  await t.step('the page shows HALTED and the measured press → all HALTED time', async () => {
    const ok = await until(async () => (await text(page, 'engine-state')) === 'HALTED' && /press → all halted/.test(await text(page, 'kill-latency')), 10_000);
    await page.screenshot({ path: path.join(RESULTS, 'cockpit-halted-1920x1080.png') });
    return ok ? true : `header: ${await text(page, 'engine-state')} / ${await text(page, 'kill-latency')}`;
  });

  await t.step('no order left after the flag (Execution orders_sent unchanged, open orders cancelled)', async () => {
    if (ordersAtHalt === null) return 'engine_orders_sent_total missing from /metrics';
    await sleep(2000);
    const m = await request(`${base}/metrics`);
    const after = metric(m.body, 'engine_orders_sent_total');
    const open = metric(m.body, 'engine_open_orders');
    if (after !== ordersAtHalt) return `orders_sent ${ordersAtHalt} at HALTED, ${after} 2 s later`;
    if (open !== 0) return `${open} orders still open 2 s after the kill`;
    return true;
  });

  t.check('no JavaScript errors in the page', pageErrors.length === 0, pageErrors.join('; '));
} catch (e) {
  t.check('browser test ran to the end', false, e?.stack ?? String(e));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (engine) await stopEngine(topo, engine).catch(() => {});
  clearTimeout(watchdog);
}
const code = t.finish();
process.exit(code);
