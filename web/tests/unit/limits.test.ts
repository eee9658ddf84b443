import { mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';

import type { LimitUse, SpendView } from '@/api/apiKeys';
import LimitMeters from '@/components/LimitMeters.vue';
import { i18n } from '@/locales';
import { limitMeters, meterLevel, percentText, resetAtMs, spentPercent } from '@/utils/limits';

const now = Date.parse('2026-05-01T12:00:00Z');

function use(spent: number, limit: number, resetsIn: number | null = null): LimitUse {
  return {
    spent_usd: spent / 1e6,
    spent_micro_usd: spent,
    limit_usd: limit / 1e6,
    limit_micro_usd: limit,
    resets_at: resetsIn === null ? null : new Date(now + resetsIn * 1000).toISOString(),
    resets_in_seconds: resetsIn,
  };
}

/** A key with a $10 weekly and a $2 five-hour limit, $1.50 spent in both. */
function spend(): SpendView {
  return {
    daily: use(1_500_000, 0, 3600),
    weekly: use(1_500_000, 10_000_000, 86_400 * 3),
    monthly: use(1_500_000, 0, 86_400 * 20),
    five_hours: use(1_500_000, 2_000_000),
    total: use(1_500_000, 0),
  };
}

describe('spend against a limit', () => {
  it('is a percentage of the limit, capped at 100, and none without a limit', () => {
    expect(spentPercent(1_500_000, 10_000_000)).toBe(15);
    expect(spentPercent(12, 10)).toBe(100);
    expect(spentPercent(5, 0)).toBeNull();
  });

  it('reads <1% for a little spend and 100% only once the limit is reached', () => {
    expect(percentText(0, false)).toBe('0%');
    expect(percentText(0.04, false)).toBe('<1%');
    expect(percentText(42.4, false)).toBe('42%');
    expect(percentText(99.8, false)).toBe('99%');
    expect(percentText(100, true)).toBe('100%');
  });

  it('turns amber from 70 % and red from 90 %', () => {
    expect([null, 69.9, 70, 89.9, 90, 100].map(meterLevel)).toEqual(['ok', 'ok', 'warn', 'warn', 'high', 'high']);
  });

  it("counts the reset from the server's seconds, not the browser's clock", () => {
    const skewed = { ...use(0, 1, 60), resets_at: '2000-01-01T00:00:00Z' };
    expect(resetAtMs(skewed, now)).toBe(now + 60_000);
    expect(resetAtMs({ ...use(0, 1), resets_at: '2026-05-01T13:00:00Z' }, now)).toBe(Date.parse('2026-05-01T13:00:00Z'));
    expect(resetAtMs(use(0, 1), now)).toBeNull();
  });

  it('lists the windows with a limit, shortest first, and the ones asked for', () => {
    expect(limitMeters(spend(), now).map((m) => m.window)).toEqual(['five_hours', 'weekly']);
    expect(limitMeters(spend(), now, ['daily', 'total']).map((m) => m.window)).toEqual(['five_hours', 'daily', 'weekly', 'total']);
    expect(limitMeters(undefined, now)).toEqual([]);
  });

  it('gives each window its spend, limit, level and reset', () => {
    const [five, week] = limitMeters({ ...spend(), five_hours: use(2_000_000, 2_000_000, 1800) }, now);
    expect(five).toEqual({ window: 'five_hours', spentMicro: 2_000_000, limitMicro: 2_000_000, percent: 100, level: 'high', reached: true, resetAtMs: now + 1_800_000 });
    expect(week).toMatchObject({ window: 'weekly', percent: 15, level: 'ok', reached: false, resetAtMs: now + 3 * 86_400_000 });
  });
});

describe('the LimitMeters component', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(now));
    i18n.global.locale.value = 'en-US';
  });

  afterEach(() => {
    vi.useRealTimers();
    i18n.global.locale.value = 'zh-CN';
  });

  const mountMeters = (props: { spend: SpendView; compact?: boolean; timezone?: string }) =>
    mount(LimitMeters, { props, global: { plugins: [i18n], stubs: { 't-progress': true } } });

  it('shows spent / limit for each limit that is set, in micro-USD precision', () => {
    const w = mountMeters({ spend: spend(), timezone: 'Asia/Shanghai' });
    expect(w.find('[data-testid="limit-daily"]').exists()).toBe(false);
    const week = w.find('[data-testid="limit-weekly"]');
    expect(week.find('[data-testid="limit-spent"]').text()).toBe('$1.50');
    expect(week.find('[data-testid="limit-of"]').text()).toBe('$10.00');
    expect(week.text()).toContain('Since Monday midnight (Asia/Shanghai)');
    expect(week.find('[data-testid="limit-reset"]').text()).toBe('3d 00:00:00');
    // The rolling window under its limit has no reset time.
    expect(w.find('[data-testid="limit-five_hours"] [data-testid="limit-reset"]').exists()).toBe(false);
    w.unmount();
  });

  it('says when a limit is reached and counts down to when the key may spend again', async () => {
    const w = mountMeters({ spend: { ...spend(), five_hours: use(2_000_000, 2_000_000, 2) }, compact: true });
    const five = () => w.find('[data-testid="limit-five_hours"]');
    expect(five().find('[data-testid="limit-spent"]').classes()).toContain('reached');
    expect(five().text()).toContain('under the limit in 00:02');
    vi.advanceTimersByTime(1_000);
    await nextTick();
    expect(five().find('[data-testid="limit-reset"]').text()).toBe('00:01');
    expect(w.emitted('reset')).toBeUndefined();
    vi.advanceTimersByTime(1_000);
    await nextTick();
    expect(w.emitted('reset')).toHaveLength(1);
    vi.advanceTimersByTime(3_000);
    await nextTick();
    expect(w.emitted('reset')).toHaveLength(1);
    w.unmount();
  });

  it('counts from when new spend arrives', async () => {
    const w = mountMeters({ spend: spend() });
    vi.advanceTimersByTime(10_000);
    await w.setProps({ spend: { ...spend(), weekly: use(1_500_000, 10_000_000, 60) } });
    expect(w.find('[data-testid="limit-weekly"] [data-testid="limit-reset"]').text()).toBe('01:00');
    w.unmount();
  });
});
