/** The public key-usage page's pure parts: spend against a limit, and the recent requests' columns. */
import type { KeyDay } from '@/api/publicUsage';
import type { TrendPoint } from '@/api/stats';
import { t } from '@/locales';

/** Percent of `limit` spent (0–100), or null when there is no limit. */
export function spentPercent(spent: number, limit: number): number | null {
  if (!limit || limit <= 0) return null;
  return Math.min(100, Math.max(0, (spent / limit) * 100));
}

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
