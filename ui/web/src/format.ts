// Number formatting for a dense console: fixed decimals per unit so widths stay stable
// when values change (no layout jumps), a minus sign instead of a hyphen, Indian grouping
// for rupees. Every function returns '—' for values it cannot show (null, NaN, ±∞).

export const DASH = '—';
const MINUS = '−';

function bad(x: number | null | undefined): x is null | undefined {
  return x === null || x === undefined || !Number.isFinite(x);
}

/**
 * Nanoseconds in the unit that keeps three significant digits:
 * 850 → "850 ns", 12_345 → "12.3 µs", 4_560_000 → "4.56 ms", 1_234_000_000 → "1.23 s".
 */
export function fmtNs(ns: number | null | undefined): string {
  if (bad(ns)) return DASH;
  const sign = ns < 0 ? MINUS : '';
  const a = Math.abs(ns);
  const scaled = (v: number, unit: string) => {
    // Three significant digits, judged after rounding (9.996 → "10.0", not "10.00").
    let digits = 2;
    if (Number(v.toFixed(2)) >= 10) digits = 1;
    if (Number(v.toFixed(1)) >= 100) digits = 0;
    return `${sign}${v.toFixed(digits)} ${unit}`;
  };
  if (a < 999.5) return `${sign}${Math.round(a)} ns`;
  if (a < 999_500) return scaled(a / 1e3, 'µs');
  if (a < 999_500_000) return scaled(a / 1e6, 'ms');
  return scaled(a / 1e9, 's');
}

/** Group an integer string the Indian way: 1234567 → "12,34,567". */
function groupIndian(intDigits: string): string {
  if (intDigits.length <= 3) return intDigits;
  const last3 = intDigits.slice(-3);
  let rest = intDigits.slice(0, -3);
  const parts: string[] = [];
  while (rest.length > 2) {
    parts.unshift(rest.slice(-2));
    rest = rest.slice(0, -2);
  }
  if (rest.length > 0) parts.unshift(rest);
  return `${parts.join(',')},${last3}`;
}

/** Rupees with paise and Indian grouping: −1234567.891 → "−₹12,34,567.89". */
export function fmtInr(inr: number | null | undefined, opts: { sign?: boolean } = {}): string {
  if (bad(inr)) return DASH;
  const paise = Math.round(Math.abs(inr) * 100);
  const rupees = Math.floor(paise / 100).toString();
  const frac = (paise % 100).toString().padStart(2, '0');
  const neg = inr < 0 && paise !== 0;
  const sign = neg ? MINUS : opts.sign && paise !== 0 ? '+' : '';
  return `${sign}₹${groupIndian(rupees)}.${frac}`;
}

/** Basis points with one decimal and an explicit sign: 12.345 → "+12.3 bp". */
export function fmtBp(bp: number | null | undefined): string {
  if (bad(bp)) return DASH;
  const r = Math.round(bp * 10) / 10;
  if (r === 0) return '0.0 bp';
  return `${r > 0 ? '+' : MINUS}${Math.abs(r).toFixed(1)} bp`;
}

/** Percent with fixed decimals: 63.25 → "63.3 %"; signed shows "+"/"−". */
export function fmtPct(
  pct: number | null | undefined,
  opts: { digits?: number; sign?: boolean } = {},
): string {
  if (bad(pct)) return DASH;
  const digits = opts.digits ?? 1;
  const s = Math.abs(pct).toFixed(digits);
  const zero = Number(s) === 0;
  const sign = pct < 0 && !zero ? MINUS : opts.sign && !zero ? '+' : '';
  return `${sign}${s} %`;
}

/** Ratio 0…1 shown as a percentage: 0.4567 → "45.7 %". */
export function fmtRatioPct(ratio: number | null | undefined, digits = 1): string {
  if (bad(ratio)) return DASH;
  return fmtPct(ratio * 100, { digits });
}

/** Integer counts with thousands separators (international grouping): 1234567 → "1,234,567". */
export function fmtCount(n: number | null | undefined): string {
  if (bad(n)) return DASH;
  const r = Math.round(n);
  const s = Math.abs(r)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return r < 0 ? `${MINUS}${s}` : s;
}

/** Signed fixed-decimal number: 0.1234 → "+0.123". */
export function fmtSigned(x: number | null | undefined, digits = 3): string {
  if (bad(x)) return DASH;
  const s = Math.abs(x).toFixed(digits);
  if (Number(s) === 0) return (0).toFixed(digits);
  return `${x < 0 ? MINUS : '+'}${s}`;
}

/** Plain fixed decimals with a proper minus sign. */
export function fmtFixed(x: number | null | undefined, digits = 2): string {
  if (bad(x)) return DASH;
  const s = Math.abs(x).toFixed(digits);
  return x < 0 && Number(s) !== 0 ? `${MINUS}${s}` : s;
}

/** Milliseconds of age: 12 → "12 ms", 2500 → "2.5 s", 125000 → "2m05s". */
export function fmtAgeMs(ms: number | null | undefined): string {
  if (bad(ms) || ms < 0) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.floor(ms / 1000);
  return `${Math.floor(total / 60)}m${(total % 60).toString().padStart(2, '0')}s`;
}

/** Uptime from ns: "3h07m12s". */
export function fmtUptime(ns: number | null | undefined): string {
  if (bad(ns) || ns < 0) return DASH;
  const s = Math.floor(ns / 1e9);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = m.toString().padStart(2, '0');
  const ss = sec.toString().padStart(2, '0');
  return h > 0 ? `${h}h${mm}m${ss}s` : `${m}m${ss}s`;
}
