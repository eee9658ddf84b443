import { mount } from '@vue/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nextTick } from 'vue';

import Countdown from '@/components/Countdown.vue';
import { formatCountdown, secondsUntil } from '@/utils/countdown';

describe('secondsUntil', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');

  it('counts whole seconds up to an RFC 3339 time or epoch milliseconds', () => {
    expect(secondsUntil('2026-05-01T12:01:30Z', now)).toBe(90);
    expect(secondsUntil(now + 1_500, now)).toBe(2);
    expect(secondsUntil(now + 1, now)).toBe(1);
  });

  it('is zero once the moment has passed, or when there is none', () => {
    expect(secondsUntil('2026-05-01T11:59:59Z', now)).toBe(0);
    expect(secondsUntil(null, now)).toBe(0);
    expect(secondsUntil('', now)).toBe(0);
    expect(secondsUntil('soon', now)).toBe(0);
  });
});

describe('formatCountdown', () => {
  it('shows minutes and seconds, hours, and days', () => {
    expect(formatCountdown(0)).toBe('00:00');
    expect(formatCountdown(59)).toBe('00:59');
    expect(formatCountdown(61)).toBe('01:01');
    expect(formatCountdown(3_661)).toBe('1:01:01');
    expect(formatCountdown(90_061)).toBe('1d 01:01:01');
    expect(formatCountdown(-5)).toBe('00:00');
  });
});

describe('the Countdown component', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-05-01T12:00:00Z'));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks every second and reports when it reaches zero', async () => {
    const wrapper = mount(Countdown, { props: { until: '2026-05-01T12:00:03Z' } });
    expect(wrapper.text()).toBe('00:03');
    vi.advanceTimersByTime(1_000);
    await nextTick();
    expect(wrapper.text()).toBe('00:02');
    expect(wrapper.emitted('done')).toBeUndefined();
    vi.advanceTimersByTime(2_000);
    await nextTick();
    expect(wrapper.text()).toBe('00:00');
    expect(wrapper.emitted('done')).toHaveLength(1);
    wrapper.unmount();
  });

  it('follows a new target', async () => {
    const wrapper = mount(Countdown, { props: { until: '2026-05-01T12:00:10Z' } });
    expect(wrapper.text()).toBe('00:10');
    await wrapper.setProps({ until: '2026-05-01T13:00:00Z' });
    expect(wrapper.text()).toBe('1:00:00');
    wrapper.unmount();
  });
});
