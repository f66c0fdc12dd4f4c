// Axis helpers shared by the charts: decade ticks on log scales (a grid line per power of ten,
// nothing in between, so the plot stays quiet) and a compact wall-clock time axis.

import { fmtNs } from '../format';

/** Powers of ten within [min, max]. */
export function decades(min: number, max: number): number[] {
  const out: number[] = [];
  if (!(min > 0) || !(max > min)) return out;
  for (let p = Math.ceil(Math.log10(min) - 1e-9); p <= Math.floor(Math.log10(max) + 1e-9); p++) {
    out.push(10 ** p);
  }
  return out;
}

/** "14:03:27" from seconds since the epoch (local time). */
export function clock(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (n: number) => n.toString().padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Short ns labels for log axes: 1µs, 10µs, 1ms… (no decimals on decades). */
export function nsTick(v: number): string {
  return fmtNs(v).replace(/\.0+ /, ' ').replace(/\.00 /, ' ');
}

/** Keep every n-th tick so labels stay at least `minPx` CSS pixels apart. */
export function thin(ticks: number[], plotWidthPx: number, minPx = 48): number[] {
  if (ticks.length < 2 || plotWidthPx <= 0) return ticks;
  const step = Math.max(1, Math.ceil((ticks.length * minPx) / plotWidthPx));
  return ticks.filter((_, i) => i % step === 0);
}
