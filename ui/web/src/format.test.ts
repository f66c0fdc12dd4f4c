import { describe, expect, it } from 'vitest';
import {
  DASH,
  fmtAgeMs,
  fmtBp,
  fmtCount,
  fmtInr,
  fmtNs,
  fmtPct,
  fmtRatioPct,
  fmtSigned,
  fmtUptime,
} from './format';

describe('fmtNs picks the unit that keeps three significant digits', () => {
  it.each([
    [0, '0 ns'],
    [850, '850 ns'],
    [999, '999 ns'],
    [999.6, '1.00 µs'], // rounds up into the next unit, never "1000 ns"
    [1_000, '1.00 µs'],
    [12_345, '12.3 µs'],
    [9_996, '10.0 µs'], // three digits after rounding, not "10.00"
    [250_000, '250 µs'],
    [999_499, '999 µs'],
    [999_500, '1.00 ms'],
    [4_560_000, '4.56 ms'],
    [20_000_000, '20.0 ms'],
    [1_234_000_000, '1.23 s'],
    [-5_000, '−5.00 µs'],
  ])('%d ns → %s', (ns, text) => {
    expect(fmtNs(ns)).toBe(text);
  });

  it('shows a dash for missing or non-finite values', () => {
    expect(fmtNs(null)).toBe(DASH);
    expect(fmtNs(undefined)).toBe(DASH);
    expect(fmtNs(Number.NaN)).toBe(DASH);
    expect(fmtNs(Number.POSITIVE_INFINITY)).toBe(DASH);
  });
});

describe('fmtInr groups the Indian way with paise', () => {
  it.each([
    [0, '₹0.00'],
    [5, '₹5.00'],
    [999.999, '₹1,000.00'],
    [1234.5, '₹1,234.50'],
    [123456, '₹1,23,456.00'],
    [1234567.891, '₹12,34,567.89'],
    [123456789, '₹12,34,56,789.00'],
    [-42.1, '−₹42.10'],
    [-0.004, '₹0.00'], // rounds to zero: no negative zero
  ])('%d → %s', (inr, text) => {
    expect(fmtInr(inr)).toBe(text);
  });

  it('can show an explicit plus sign for P&L', () => {
    expect(fmtInr(12.3, { sign: true })).toBe('+₹12.30');
    expect(fmtInr(-12.3, { sign: true })).toBe('−₹12.30');
    expect(fmtInr(0, { sign: true })).toBe('₹0.00');
  });
});

describe('fmtBp, fmtPct and ratios', () => {
  it('basis points carry a sign and one decimal', () => {
    expect(fmtBp(12.345)).toBe('+12.3 bp');
    expect(fmtBp(-0.26)).toBe('−0.3 bp');
    expect(fmtBp(0.04)).toBe('0.0 bp');
    expect(fmtBp(null)).toBe(DASH);
  });

  it('percentages keep fixed decimals', () => {
    expect(fmtPct(63.25, { digits: 1 })).toBe('63.3 %');
    expect(fmtPct(7)).toBe('7.0 %');
    expect(fmtPct(-12.5, { digits: 0 })).toBe('−13 %');
    expect(fmtPct(4.2, { sign: true })).toBe('+4.2 %');
    expect(fmtPct(-0.01, { sign: true })).toBe('0.0 %');
    expect(fmtRatioPct(0.4567)).toBe('45.7 %');
    expect(fmtRatioPct(1)).toBe('100.0 %');
  });

  it('counts, signed values, ages and uptimes', () => {
    expect(fmtCount(1234567)).toBe('1,234,567');
    expect(fmtCount(-1000)).toBe('−1,000');
    expect(fmtCount(999)).toBe('999');
    expect(fmtSigned(0.1234)).toBe('+0.123');
    expect(fmtSigned(-0.5, 2)).toBe('−0.50');
    expect(fmtSigned(-0.0001)).toBe('0.000');
    expect(fmtAgeMs(12)).toBe('12 ms');
    expect(fmtAgeMs(2500)).toBe('2.5 s');
    expect(fmtAgeMs(125_000)).toBe('2m05s');
    expect(fmtUptime(3 * 3600e9 + 7 * 60e9 + 12e9)).toBe('3h07m12s');
    expect(fmtUptime(65e9)).toBe('1m05s');
  });
});
