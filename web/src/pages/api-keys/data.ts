/** The API keys page's pure parts: columns, the form's model and rules, and the bodies sent. */
import type { FormRule } from 'tdesign-vue-next';

import type { ApiKey, KeyLimits, KeyUpdate, NewKey } from '@/api/apiKeys';
import { t } from '@/locales';
import { LIMIT_FIELD, LIMIT_WINDOWS } from '@/utils/limits';

/** The spend limits in USD, in the order the form shows them (shortest window first). */
export const MONEY_LIMITS = LIMIT_WINDOWS.map((w) => LIMIT_FIELD[w]);
/** The rate limits (counts). */
export const RATE_LIMITS = ['rpm_limit', 'concurrency_limit'] as const satisfies readonly (keyof KeyLimits)[];

/** The largest spend limit the API accepts, USD. */
export const MAX_LIMIT_USD = 1_000_000_000;
/** The largest RPM or concurrency limit the API accepts. */
export const MAX_RATE_LIMIT = 1_000_000;

export interface KeyForm extends KeyLimits {
  name: string;
  group_id: number | undefined;
  expires_at: string;
  allowed_models: string[];
  enabled: boolean;
}

const noLimits = (): KeyLimits => ({
  daily_limit_usd: 0,
  total_limit_usd: 0,
  limit_5h_usd: 0,
  weekly_limit_usd: 0,
  monthly_limit_usd: 0,
  rpm_limit: 0,
  concurrency_limit: 0,
});

/** The seven limits of `k` (a field an older API does not answer reads as none). */
export function limitsOf(k: Partial<KeyLimits>): KeyLimits {
  const out = noLimits();
  for (const f of Object.keys(out) as (keyof KeyLimits)[]) {
    const v = k[f];
    out[f] = typeof v === 'number' && Number.isFinite(v) ? v : 0;
  }
  return out;
}

export function emptyForm(): KeyForm {
  return { name: '', group_id: undefined, expires_at: '', allowed_models: [], enabled: true, ...noLimits() };
}

export function formOf(k: ApiKey): KeyForm {
  return {
    name: k.name,
    group_id: k.group_id,
    expires_at: k.expires_at ?? '',
    allowed_models: [...k.allowed_models],
    enabled: k.enabled,
    ...limitsOf(k),
  };
}

/** The picker's local time as RFC 3339 UTC (the API's format), or null for never. */
export function expiryOf(v: string): string | null {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

const models = (f: KeyForm) => f.allowed_models.map((m) => m.trim()).filter(Boolean);

export function createBody(f: KeyForm): NewKey {
  const expires = expiryOf(f.expires_at);
  return {
    name: f.name.trim(),
    ...(f.group_id ? { group_id: f.group_id } : {}),
    ...(expires ? { expires_at: expires } : {}),
    allowed_models: models(f),
    enabled: f.enabled,
    ...limitsOf(f),
  };
}

export function updateBody(f: KeyForm): KeyUpdate {
  return {
    name: f.name.trim(),
    expires_at: expiryOf(f.expires_at),
    allowed_models: models(f),
    enabled: f.enabled,
    ...limitsOf(f),
  };
}

const blank = (v: unknown) => v === undefined || v === null || v === '';

/**
 * Whether `v` is a spend limit the API accepts: USD from 0 to {@link MAX_LIMIT_USD}. A cleared
 * field counts as 0 (none), as {@link limitsOf} sends it.
 */
export const validMoneyLimit = (v: unknown) => blank(v) || (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_LIMIT_USD);
/** Whether `v` is a rate limit the API accepts: a whole number from 0 to {@link MAX_RATE_LIMIT}, or cleared. */
export const validRateLimit = (v: unknown) => blank(v) || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_RATE_LIMIT);

export const keyRules = (): Record<string, FormRule[]> => ({
  name: [
    { required: true, message: t('keys.nameRequired') },
    { max: 128, message: t('common.tooLong', { n: 128 }) },
  ],
  ...Object.fromEntries(MONEY_LIMITS.map((f) => [f, [{ validator: validMoneyLimit, message: t('keys.moneyLimitRange', { n: MAX_LIMIT_USD }) }]])),
  ...Object.fromEntries(RATE_LIMITS.map((f) => [f, [{ validator: validRateLimit, message: t('keys.rateLimitRange', { n: MAX_RATE_LIMIT }) }]])),
});

export function columns(admin: boolean) {
  return [
    { colKey: 'name', title: t('keys.name'), minWidth: 190 },
    ...(admin ? [{ colKey: 'owner', title: t('keys.owner'), width: 90, ellipsis: true }] : []),
    { colKey: 'status', title: t('keys.status'), width: 90 },
    { colKey: 'today', title: t('keys.todaySpend'), width: 115, align: 'right' as const },
    { colKey: 'limits', title: t('keys.limits'), width: 220 },
    { colKey: 'expires_at', title: t('keys.expiresAt'), width: 160 },
    { colKey: 'enabled', title: t('common.enabled'), width: 90, align: 'center' as const },
    { colKey: 'op', title: t('common.actions'), width: 150, fixed: 'right' as const },
  ];
}

/** Whether `k` has any spend limit (the keys page then shows its meters). */
export const hasSpendLimit = (k: Partial<KeyLimits>) => MONEY_LIMITS.some((f) => (k[f] ?? 0) > 0);

/** `expired` once the expiry has passed, else `enabled`/`disabled`. */
export function keyStatus(k: ApiKey, nowMs: number): 'active' | 'disabled' | 'expired' {
  if (k.expires_at && Date.parse(k.expires_at) <= nowMs) return 'expired';
  return k.enabled ? 'active' : 'disabled';
}
