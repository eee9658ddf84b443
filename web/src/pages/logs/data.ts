/** The logs page's columns, filter model, and the fields of the detail drawer. */
import type { LogFilter, UsageLog } from '@/api/logs';
import { t } from '@/locales';
import { formatDateTime, formatDurationMs, formatMicroUsd, formatNumber } from '@/utils/format';

export interface LogFilterForm {
  api_key_id?: number;
  account_id?: number;
  user_id?: number;
  model: string;
  status_code: string;
  outcome?: string;
  range: string[];
}

export const emptyFilters = (): LogFilterForm => ({ model: '', status_code: '', range: [] });

/** The API query of the filter form (times: the picker's local times as RFC 3339 UTC). */
export function queryOf(f: LogFilterForm, admin: boolean): LogFilter {
  const iso = (v: string | undefined) => {
    if (!v) return undefined;
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
  };
  const status = Number.parseInt(f.status_code, 10);
  return {
    api_key_id: f.api_key_id,
    ...(admin ? { account_id: f.account_id, user_id: f.user_id } : {}),
    model: f.model.trim() || undefined,
    status_code: Number.isFinite(status) ? status : undefined,
    outcome: f.outcome,
    from: iso(f.range[0]),
    to: iso(f.range[1]),
  };
}

export const OUTCOMES = ['ok', 'client_closed', 'upstream_error', 'relay_error'] as const;

export function outcomeTheme(o: string): 'success' | 'warning' | 'danger' | 'default' {
  if (o === 'ok') return 'success';
  if (o === 'client_closed') return 'warning';
  if (o === 'upstream_error' || o === 'relay_error') return 'danger';
  return 'default';
}

export function statusTheme(code: number): 'success' | 'warning' | 'danger' | 'default' {
  if (code >= 200 && code < 300) return 'success';
  if (code === 499 || code === 429) return 'warning';
  if (code >= 400) return 'danger';
  return 'default';
}

export function columns(admin: boolean) {
  return [
    { colKey: 'created_at', title: t('logs.time'), width: 165 },
    { colKey: 'key', title: t('logs.key'), width: 110, ellipsis: true },
    ...(admin ? [{ colKey: 'account', title: t('logs.account'), width: 110, ellipsis: true }] : []),
    { colKey: 'model', title: t('logs.model'), minWidth: 180 },
    { colKey: 'status', title: t('logs.status'), width: 100 },
    { colKey: 'tokens', title: t('logs.tokens'), width: 175, align: 'right' as const },
    { colKey: 'cost', title: t('logs.cost'), width: 105, align: 'right' as const },
    { colKey: 'timing', title: t('logs.timing'), width: 115, align: 'right' as const },
  ];
}

/** Every field of a row, as label and text, for the detail drawer. */
export function detailRows(r: UsageLog, names: { key: string; account: string; user: string }, locale: string): { label: string; value: string; mono?: boolean; testid?: string }[] {
  const n = (v: number) => formatNumber(v, locale);
  return [
    { label: t('logs.requestId'), value: r.request_id, mono: true },
    { label: t('logs.time'), value: formatDateTime(r.created_at) },
    { label: t('logs.key'), value: `${names.key} (#${r.api_key_id})` },
    { label: t('logs.account'), value: r.account_id === null ? '—' : `${names.account} (#${r.account_id})` },
    { label: t('logs.user'), value: `${names.user} (#${r.user_id})` },
    { label: t('logs.model'), value: r.model, mono: true },
    { label: t('logs.upstreamModel'), value: r.upstream_model, mono: true },
    { label: t('logs.stream'), value: r.stream ? t('common.yes') : t('common.no') },
    { label: t('logs.status'), value: String(r.status_code) },
    { label: t('logs.outcome'), value: t(`logs.outcome_${r.outcome}`) },
    { label: t('logs.errorType'), value: r.error_type ?? '—' },
    { label: t('logs.attempts'), value: n(r.attempts) },
    { label: t('logs.sticky'), value: r.sticky ? t('common.yes') : t('common.no') },
    { label: t('tokens.input'), value: n(r.input_tokens), testid: 'detail-input' },
    { label: t('tokens.output'), value: n(r.output_tokens), testid: 'detail-output' },
    { label: t('tokens.cacheRead'), value: n(r.cache_read_input_tokens), testid: 'detail-cache-read' },
    { label: t('tokens.cacheWrite'), value: n(r.cache_creation_input_tokens), testid: 'detail-cache-write' },
    { label: t('tokens.cacheWrite5m'), value: n(r.cache_creation_5m_input_tokens) },
    { label: t('tokens.cacheWrite1h'), value: n(r.cache_creation_1h_input_tokens) },
    { label: t('logs.cost'), value: `${formatMicroUsd(r.cost_micro_usd, locale)} (${n(r.cost_micro_usd)} µUSD)`, testid: 'detail-cost' },
    { label: t('logs.duration'), value: formatDurationMs(r.duration_ms) },
    { label: t('logs.ttfb'), value: formatDurationMs(r.ttfb_ms) },
  ];
}
