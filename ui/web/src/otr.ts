// The OTR gauge's scale (kept apart from the panel so it is testable without a canvas).

/** NSE order-to-trade penalty slabs (exchange notice of 2020): OTR bounds and paise per order. */
export const OTR_SLABS: { from: number; to: number; paise: number }[] = [
  { from: 0, to: 50, paise: 0 },
  { from: 50, to: 250, paise: 2 },
  { from: 250, to: 500, paise: 10 },
  { from: 500, to: 1000, paise: 15 },
  { from: 1000, to: 2000, paise: 20 },
  { from: 2000, to: Infinity, paise: 25 },
];

/** Position of an OTR on a scale where each slab gets equal width (0…1). */
export function otrScale(otr: number): number {
  if (!Number.isFinite(otr) || otr <= 0) return 0;
  const n = OTR_SLABS.length;
  for (let i = 0; i < n; i++) {
    const s = OTR_SLABS[i];
    if (otr < s.to) {
      const span = Number.isFinite(s.to) ? s.to - s.from : s.from; // last slab: 2000…4000
      return Math.min(1, (i + Math.min(1, (otr - s.from) / span)) / n);
    }
  }
  return 1;
}
