/**
 * The API keys page's pure parts: columns, the form's model and rules, the bodies sent, and
 * which extra limit windows the API answers (picked up as the API adds them).
 */
import type { FormRule } from 'tdesign-vue-next';

import type { ApiKey, KeyUpdate, NewKey } from '@/api/apiKeys';
import { t } from '@/locales';

/** Limit windows in USD that newer APIs add to keys; shown and edited when present. */
export const EXTRA_LIMITS = ['limit_5h_usd', 'weekly_limit_usd', 'monthly_limit_usd'] as const;
export type ExtraLimit = (typeof EXTRA_LIMITS)[number];

/** The extra limit fields that the API answers on any of `keys`. */
export function extraLimitsOf(keys: ApiKey[]): ExtraLimit[] {
  return EXTRA_LIMITS.filter((f) => keys.some((k) => typeof k[f] === 'number'));
}

export interface KeyForm {
  name: string;
  group_id: number | undefined;
  expires_at: string;
  allowed_models: string[];
  daily_limit_usd: number;
  total_limit_usd: number;
  rpm_limit: number;
  concurrency_limit: number;
  enabled: boolean;
  extra: Partial<Record<ExtraLimit, number>>;
}

export function emptyForm(): KeyForm {
  return {
    name: '',
    group_id: undefined,
    expires_at: '',
    allowed_models: [],
    daily_limit_usd: 0,
    total_limit_usd: 0,
    rpm_limit: 0,
    concurrency_limit: 0,
    enabled: true,
    extra: {},
  };
}

export function formOf(k: ApiKey, extras: ExtraLimit[]): KeyForm {
  const extra: Partial<Record<ExtraLimit, number>> = {};
  for (const f of extras) extra[f] = typeof k[f] === 'number' ? (k[f] as number) : 0;
  return {
    name: k.name,
    group_id: k.group_id,
    expires_at: k.expires_at ?? '',
    allowed_models: [...k.allowed_models],
    daily_limit_usd: k.daily_limit_usd,
    total_limit_usd: k.total_limit_usd,
    rpm_limit: k.rpm_limit,
    concurrency_limit: k.concurrency_limit,
    enabled: k.enabled,
    extra,
  };
}

/** The picker's local time as RFC 3339 UTC (the API's format), or null for never. */
export function expiryOf(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function createBody(f: KeyForm): NewKey {
  const expires = expiryOf(f.expires_at);
  return {
    name: f.name.trim(),
    ...(f.group_id ? { group_id: f.group_id } : {}),
    ...(expires ? { expires_at: expires } : {}),
    allowed_models: f.allowed_models.map((m) => m.trim()).filter(Boolean),
    daily_limit_usd: f.daily_limit_usd,
    total_limit_usd: f.total_limit_usd,
    rpm_limit: f.rpm_limit,
    concurrency_limit: f.concurrency_limit,
    enabled: f.enabled,
    ...f.extra,
  };
}

export function updateBody(f: KeyForm): KeyUpdate {
  return {
    name: f.name.trim(),
    expires_at: expiryOf(f.expires_at),
    allowed_models: f.allowed_models.map((m) => m.trim()).filter(Boolean),
    daily_limit_usd: f.daily_limit_usd,
    total_limit_usd: f.total_limit_usd,
    rpm_limit: f.rpm_limit,
    concurrency_limit: f.concurrency_limit,
    enabled: f.enabled,
    ...f.extra,
  };
}

export const keyRules = (): Record<string, FormRule[]> => ({
  name: [
    { required: true, message: t('keys.nameRequired') },
    { max: 128, message: t('common.tooLong', { n: 128 }) },
  ],
});

export function columns(admin: boolean) {
  return [
    { colKey: 'name', title: t('keys.name'), minWidth: 190 },
    ...(admin ? [{ colKey: 'owner', title: t('keys.owner'), width: 100, ellipsis: true }] : []),
    { colKey: 'status', title: t('keys.status'), width: 90 },
    { colKey: 'today', title: t('keys.todaySpend'), width: 130, align: 'right' as const },
    { colKey: 'limits', title: t('keys.limits'), width: 180 },
    { colKey: 'expires_at', title: t('keys.expiresAt'), width: 165 },
    { colKey: 'enabled', title: t('common.enabled'), width: 80, align: 'center' as const },
    { colKey: 'op', title: t('common.actions'), width: 160, fixed: 'right' as const },
  ];
}

/** `expired` once the expiry has passed, else `enabled`/`disabled`. */
export function keyStatus(k: ApiKey, nowMs: number): 'active' | 'disabled' | 'expired' {
  if (k.expires_at && Date.parse(k.expires_at) <= nowMs) return 'expired';
  return k.enabled ? 'active' : 'disabled';
}
