// Endurance: the cockpit open on the real engine for ENDURANCE_MINUTES (default 10) with 20 Hz
// updates in every panel; JS heap measured in the browser (after a forced GC, through the
// DevTools protocol) at the start and at the end, plus frames received and missed.
// `make cockpit-endurance`; the summary line goes to BENCHMARKS.md.

import fs from 'node:fs';
import path from 'node:path';
import { RESULTS, engineLog, launchBrowser, privateTopology, runner, sleep, startEngine, status, stopEngine, until } from './lib.mjs';

const minutes = Number(process.env.ENDURANCE_MINUTES ?? 10);
const t = runner();
const topo = await privateTopology('cockpit-endu');
let engine = null;
let browser = null;
const samples = [];

/** Heap after GC: one collection leaves a frame's worth of garbage or not depending on timing
 * (±1 MB at 20 Hz), so collect three times per reading and keep the lowest of three readings. */
async function heapMb(cdp) {
  let best = Infinity;
  let nodes = NaN;
  for (let r = 0; r < 3; r++) {
    for (let g = 0; g < 3; g++) await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    best = Math.min(best, metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN);
    nodes = metrics.find((m) => m.name === 'Nodes')?.value ?? NaN;
    await sleep(200);
  }
  return { usedMb: best / 1048576, nodes };
}

/** Least-squares slope of heap (MB) per minute over all samples: the trend, not two points. */
function slopeMbPerMin(samples) {
  const xs = samples.map((s) => (s.at - samples[0].at) / 60_000);
  const ys = samples.map((s) => s.usedMb);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

async function pageCounters(page) {
  return page.evaluate(() => {
    const foot = document.querySelector('.foot')?.textContent ?? '';
    const seq = Number((foot.match(/seq (\d+)/) ?? [])[1] ?? NaN);
    const missed = Number((foot.match(/missed frames (\d+)/) ?? [])[1] ?? NaN);
    const snaps = Number((foot.match(/snapshots (\d+)/) ?? [])[1] ?? NaN);
    return { seq, missed, snaps };
  });
}

try {
  engine = startEngine(topo);
  const st = await until(async () => {
    const s = await status(topo);
    return s.state === 'RUNNING' && s.ui_url ? s : null;
  }, 90_000, 500);
  if (!st) throw new Error(`engine not RUNNING\n${engineLog(topo).slice(-2000)}`);
  browser = await launchBrowser({ width: 1920, height: 1080 });
  const page = browser.ctx.pages()[0] ?? (await browser.ctx.newPage());
  const cdp = await browser.ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  await page.goto(st.ui_url);
  await until(async () => (await page.locator('[data-testid="link-state"]').innerText()).includes('LIVE'), 20_000);
  await sleep(30_000); // history rings fill (60 s of points arrive in the snapshot already)
  const start = { at: Date.now(), ...(await heapMb(cdp)), ...(await pageCounters(page)) };
  samples.push(start);
  console.log(`start: heap ${start.usedMb.toFixed(2)} MB, DOM nodes ${start.nodes}, seq ${start.seq}`);
  for (let m = 1; m <= minutes; m++) {
    await sleep(60_000);
    const s = { at: Date.now(), ...(await heapMb(cdp)), ...(await pageCounters(page)) };
    const eng = await status(topo);
    s.engine = eng.state ?? eng.error;
    s.link = await page.locator('[data-testid="link-state"]').innerText().catch(() => '?');
    samples.push(s);
    console.log(`minute ${m}: heap ${s.usedMb.toFixed(2)} MB, DOM nodes ${s.nodes}, seq ${s.seq}, missed ${s.missed}, engine ${s.engine}, link ${s.link}`);
  }
  const end = samples[samples.length - 1];
  const secs = (end.at - start.at) / 1000;
  const rate = (end.seq - start.seq) / secs;
  const growth = ((end.usedMb - start.usedMb) / start.usedMb) * 100;
  const slope = slopeMbPerMin(samples);
  const min = Math.min(...samples.map((s) => s.usedMb));
  const max = Math.max(...samples.map((s) => s.usedMb));
  const line =
    `cockpit endurance ${minutes} min: JS heap after GC ${start.usedMb.toFixed(2)} MB → ${end.usedMb.toFixed(2)} MB ` +
    `(${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %; range ${min.toFixed(2)}-${max.toFixed(2)} MB, trend ${slope >= 0 ? '+' : ''}${(slope * 1024).toFixed(0)} KB/min), DOM nodes ${start.nodes} → ${end.nodes}, ` +
    `${rate.toFixed(1)} frames/s received, ${end.missed - start.missed} missed, ${end.snaps - start.snaps} reconnects`;
  console.log(line);
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'endurance.json'), JSON.stringify({ minutes, samples, line }, null, 2));
  const flowing = t.check('updates kept flowing at ~20 Hz', rate > 15, `${rate.toFixed(1)} frames/s`);
  if (!flowing) console.log(`--- supervisor log (tail) ---\n${engineLog(topo).slice(-4000)}`);
  t.check('no reconnects', end.snaps === start.snaps, `${end.snaps - start.snaps}`);
  // Bounded rings: the heap after GC may wobble, it must not trend up. Keeping every frame would
  // add ~12,000 frames of several KB (≥ 5 MB/min); 50 KB/min over ten minutes is noise.
  t.check('JS heap does not grow (trend under 50 KB/min)', slope * 1024 < 50, `${(slope * 1024).toFixed(0)} KB/min`);
  t.check('DOM node count stable', end.nodes <= start.nodes * 1.1 + 50, `${start.nodes} → ${end.nodes}`);
} catch (e) {
  t.check('endurance ran', false, e?.stack ?? String(e));
} finally {
  if (browser) await browser.close().catch(() => {});
  if (engine) await stopEngine(topo, engine).catch(() => {});
}
process.exit(t.finish());
