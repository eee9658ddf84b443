/** The public key-usage page's pure parts: the trend points, and the recent requests' columns. */
import type { KeyDay } from '@/api/publicUsage';
import type { TrendPoint } from '@/api/stats';
import { t } from '@/locales';
import type { LimitWindow } from '@/utils/limits';

/** Spend windows shown even without a limit: today's and all time's spend are always of interest. */
export const ALWAYS_SHOWN: readonly LimitWindow[] = ['daily', 'total'];

/** The key's days as trend points, so that the dashboard's chart builders apply. */
export function asTrend(days: KeyDay[]): TrendPoint[] {
  return days.map((d) => ({ ...d, bucket: d.day, start: `${d.day}T00:00:00Z` }));
}

export const recentColumns = () => [
  { colKey: 'created_at', title: t('logs.time'), width: 170 },
  { colKey: 'model', title: t('logs.model'), minWidth: 170 },
  { colKey: 'status', title: t('logs.status'), width: 90 },
  { colKey: 'tokens', title: t('logs.tokens'), width: 170, align: 'right' as const },
  { colKey: 'cost', title: t('logs.cost'), width: 110, align: 'right' as const },
  { colKey: 'duration', title: t('logs.duration'), width: 100, align: 'right' as const },
];
