import { describe, expect, it } from 'vitest';

import { formatCompact, formatDateTime, formatDurationMs, formatLimitUsd, formatMicroUsd, formatNumber, formatUsd, percentChange } from '@/utils/format';

describe('money', () => {
  it('shows cents from a dollar on, four digits from a cent, every micro-dollar below', () => {
    expect(formatMicroUsd(0)).toBe('$0.00');
    expect(formatMicroUsd(9_015)).toBe('$0.009015');
    expect(formatMicroUsd(1)).toBe('$0.000001');
    expect(formatMicroUsd(19_815)).toBe('$0.0198');
    expect(formatMicroUsd(19_850)).toBe('$0.0199');
    expect(formatMicroUsd(999_949)).toBe('$0.9999');
    expect(formatMicroUsd(1_500_000)).toBe('$1.50');
    expect(formatMicroUsd(1_234_567_890)).toBe('$1,234.57');
  });

  it('rounds half away from zero and keeps the sign', () => {
    expect(formatMicroUsd(-19_850)).toBe('-$0.0199');
    expect(formatMicroUsd(2_995_000)).toBe('$3.00');
  });

  it('formats USD amounts from the routes without micro-USD the same way', () => {
    expect(formatUsd(0.009015)).toBe('$0.009015');
    expect(formatUsd(0.0198)).toBe('$0.0198');
    expect(formatUsd(12.5)).toBe('$12.50');
    expect(formatLimitUsd(0, 'none')).toBe('none');
    expect(formatLimitUsd(5, 'none')).toBe('$5.00');
  });

  it('shows a dash for a missing amount', () => {
    expect(formatMicroUsd(null)).toBe('—');
    expect(formatUsd(Number.NaN)).toBe('—');
  });
});

describe('counts and durations', () => {
  it('groups digits and shortens large counts', () => {
    expect(formatNumber(1_234_567)).toBe('1,234,567');
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(4_250)).toBe('4.25K');
    expect(formatCompact(12_300)).toBe('12.3K');
    expect(formatCompact(4_560_000)).toBe('4.56M');
    expect(formatCompact(123_000_000)).toBe('123M');
  });

  it('shows milliseconds, seconds and minutes', () => {
    expect(formatDurationMs(850)).toBe('850 ms');
    expect(formatDurationMs(1_234)).toBe('1.23 s');
    expect(formatDurationMs(125_000)).toBe('2 min 5 s');
    expect(formatDurationMs(null)).toBe('—');
  });

  it('computes the change against yesterday, or none without one', () => {
    expect(percentChange(3, 2)).toBe(50);
    expect(percentChange(1, 4)).toBe(-75);
    expect(percentChange(5, 0)).toBeNull();
  });
});

describe('times', () => {
  it('shows an RFC 3339 UTC time in the given zone', () => {
    expect(formatDateTime('2026-01-02T16:30:05Z', 'UTC')).toBe('2026-01-02 16:30:05');
    expect(formatDateTime('2026-01-02T16:30:05Z', 'Asia/Shanghai')).toBe('2026-01-03 00:30:05');
    expect(formatDateTime('2026-07-01T00:00:00Z', 'America/New_York')).toBe('2026-06-30 20:00:00');
  });

  it("uses the browser's zone when none is given", () => {
    const iso = '2026-03-04T05:06:07Z';
    const d = new Date(iso);
    const pad = (n: number) => String(n).padStart(2, '0');
    const local = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    expect(formatDateTime(iso)).toBe(local);
  });

  it('shows a dash for a missing or broken time', () => {
    expect(formatDateTime(null)).toBe('—');
    expect(formatDateTime('not a time')).toBe('—');
  });
});
