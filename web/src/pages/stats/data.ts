/** The statistics page's range handling and table columns. */
import type { DayRange, Totals } from '@/api/stats';
import { t } from '@/locales';
import { dayText } from '@/utils/format';

/** The last `days` days ending today (browser's calendar), as `[from, to]`. */
export function lastDays(days: number, now = new Date()): [string, string] {
  const from = new Date(now);
  from.setDate(from.getDate() - (days - 1));
  return [dayText(from), dayText(now)];
}

/** The `n` days ending with `lastDay` (`YYYY-MM-DD`, the relay's today), as `[from, to]`. */
export function daysEnding(lastDay: string, n: number): [string, string] {
  const end = Date.parse(`${lastDay}T00:00:00Z`);
  if (!Number.isFinite(end)) return lastDays(n);
  const from = new Date(end - (n - 1) * 86_400_000).toISOString().slice(0, 10);
  return [from, lastDay];
}

/** The query of a day range; hourly trends take the first day's start to the last day's end. */
export function rangeQuery(range: string[], granularity: 'day' | 'hour'): DayRange {
  const [from, to] = range;
  if (!from || !to) return {};
  if (granularity === 'hour') return { from: `${from} 00:00:00`, to: `${to} 23:59:59` };
  return { from, to };
}

/** Sums of a list of totals. */
export function sumTotals(items: Totals[]): Pick<Totals, 'requests' | 'errors' | 'total_tokens' | 'cost_micro_usd' | 'input_tokens' | 'output_tokens' | 'cache_read_input_tokens' | 'cache_creation_input_tokens'> {
  const z = { requests: 0, errors: 0, total_tokens: 0, cost_micro_usd: 0, input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  for (const i of items) {
    z.requests += i.requests;
    z.errors += i.errors;
    z.total_tokens += i.total_tokens;
    z.cost_micro_usd += i.cost_micro_usd;
    z.input_tokens += i.input_tokens;
    z.output_tokens += i.output_tokens;
    z.cache_read_input_tokens += i.cache_read_input_tokens;
    z.cache_creation_input_tokens += i.cache_creation_input_tokens;
  }
  return z;
}

export type Dim = 'models' | 'accounts' | 'keys';

export function dimColumns(dim: Dim) {
  const first =
    dim === 'models'
      ? { colKey: 'label', title: t('logs.model'), minWidth: 200 }
      : dim === 'accounts'
        ? { colKey: 'label', title: t('logs.account'), minWidth: 180 }
        : { colKey: 'label', title: t('logs.key'), minWidth: 180 };
  return [
    first,
    { colKey: 'requests', title: t('stats.requests'), width: 100, align: 'right' as const },
    { colKey: 'errors', title: t('stats.errors'), width: 90, align: 'right' as const },
    { colKey: 'input_tokens', title: t('tokens.input'), width: 120, align: 'right' as const },
    { colKey: 'output_tokens', title: t('tokens.output'), width: 120, align: 'right' as const },
    { colKey: 'cache_read_input_tokens', title: t('tokens.cacheRead'), width: 120, align: 'right' as const },
    { colKey: 'cache_creation_input_tokens', title: t('tokens.cacheWrite'), width: 120, align: 'right' as const },
    { colKey: 'cost', title: t('stats.cost'), width: 120, align: 'right' as const },
  ];
}
