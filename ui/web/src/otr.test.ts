import { describe, expect, it } from 'vitest';
import { otrScale } from './otr';

describe('OTR gauge scale: each penalty slab gets one sixth of the bar', () => {
  it.each([
    [0, 0],
    [25, 0.5 / 6], // half of the nil slab
    [50, 1 / 6], // the 2-paise slab starts here
    [150, 1.5 / 6], // half-way through 50…250
    [500, 3 / 6],
    [2000, 5 / 6],
    [3000, 5.5 / 6], // last slab drawn as 2000…4000
    [1e9, 1],
    [-5, 0],
  ])('OTR %d → %f', (otr, pos) => {
    expect(otrScale(otr)).toBeCloseTo(pos, 10);
  });
});
