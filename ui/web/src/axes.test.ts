import { describe, expect, it } from 'vitest';
import { decades, nsTick } from './charts/axes';

describe('log axis helpers', () => {
  it('decades lists powers of ten inside the range', () => {
    expect(decades(1_000, 200_000_000)).toEqual([1e3, 1e4, 1e5, 1e6, 1e7, 1e8]);
    expect(decades(150, 999)).toEqual([]);
    expect(decades(0, 10)).toEqual([]);
  });
  it('decade tick labels drop the decimals', () => {
    expect(nsTick(1e3)).toBe('1 µs');
    expect(nsTick(1e4)).toBe('10 µs');
    expect(nsTick(1e5)).toBe('100 µs');
    expect(nsTick(2e7)).toBe('20 ms');
    expect(nsTick(1e9)).toBe('1 s');
  });
});
