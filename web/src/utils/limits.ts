/**
 * A key's spend against its limits, as the keys page and the public usage page show it: which
 * windows have a limit, how full each is, and when it resets. Pure; the ticking clock lives in
 * `composables/useCountdown.ts`. Money stays in integer micro-USD.
 */
import type { KeyLimits, LimitUse, SpendView } from '@/api/apiKeys';

/** The spend windows, shortest first. */
export const LIMIT_WINDOWS = ['five_hours', 'daily', 'weekly', 'monthly', 'total'] as const;
export type LimitWindow = (typeof LIMIT_WINDOWS)[number];

/** The key field that holds each window's limit in USD. */
export const LIMIT_FIELD: Record<LimitWindow, keyof KeyLimits> = {
  five_hours: 'limit_5h_usd',
  daily: 'daily_limit_usd',
  weekly: 'weekly_limit_usd',
  monthly: 'monthly_limit_usd',
  total: 'total_limit_usd',
};

/** How full a window is: under 70 %, from 70 %, from 90 % (100 %: refused until it resets). */
export type MeterLevel = 'ok' | 'warn' | 'high';

/** One window as a meter. */
export interface LimitMeter {
  window: LimitWindow;
  spentMicro: number;
  /** 0 when the window has no limit (shown only when asked for). */
  limitMicro: number;
  /** 0–100, or null without a limit. */
  percent: number | null;
  level: MeterLevel;
  /** Whether the key is refused in this window until it resets. */
  reached: boolean;
  /** When the window resets (epoch ms), or null when it does not (total) or not yet (rolling). */
  resetAtMs: number | null;
}

/** Percent of `limit` spent, 0–100, or null when there is no limit. */
export function spentPercent(spent: number, limit: number): number | null {
  if (!limit || limit <= 0) return null;
  return Math.min(100, Math.max(0, (spent / limit) * 100));
}

/**
 * A percentage as shown beside a bar: whole percent, but `<1%` for a little spend (not `0%`)
 * and `99%` until the limit is really reached (not a rounded-up `100%`).
 */
export function percentText(percent: number, reached: boolean): string {
  if (reached) return '100%';
  if (percent > 0 && percent < 1) return '<1%';
  return `${Math.min(99, Math.round(percent))}%`;
}

/** The meter level of a percentage. */
export function meterLevel(percent: number | null): MeterLevel {
  if (percent === null || percent < 70) return 'ok';
  return percent < 90 ? 'warn' : 'high';
}

/**
 * When `use` resets, in the browser's clock: the server's seconds-to-go counted from when the
 * answer arrived (`receivedAtMs`), so a browser clock that is off does not shift it; the
 * server's `resets_at` when it gave no seconds; null when it gave neither.
 */
export function resetAtMs(use: LimitUse, receivedAtMs: number): number | null {
  if (typeof use.resets_in_seconds === 'number') return receivedAtMs + use.resets_in_seconds * 1000;
  if (use.resets_at) {
    const t = Date.parse(use.resets_at);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

/**
 * The meters of `spend`: every window with a limit, shortest first, plus the windows in
 * `always` even without one (the public page always shows today and all time).
 */
export function limitMeters(spend: SpendView | null | undefined, receivedAtMs: number, always: readonly LimitWindow[] = []): LimitMeter[] {
  if (!spend) return [];
  return LIMIT_WINDOWS.filter((w) => spend[w].limit_micro_usd > 0 || always.includes(w)).map((w) => {
    const use = spend[w];
    const percent = spentPercent(use.spent_micro_usd, use.limit_micro_usd);
    return {
      window: w,
      spentMicro: use.spent_micro_usd,
      limitMicro: use.limit_micro_usd,
      percent,
      level: meterLevel(percent),
      reached: use.limit_micro_usd > 0 && use.spent_micro_usd >= use.limit_micro_usd,
      resetAtMs: resetAtMs(use, receivedAtMs),
    };
  });
}
