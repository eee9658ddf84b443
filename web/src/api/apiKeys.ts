/**
 * `/api-keys`: relay keys. Limits are USD numbers here (the API converts them to micro-USD);
 * the full key comes back only from create and regenerate.
 */
import { request } from '@/utils/request';

import type { PageQuery, Paged } from './types';

/** Where a key stands against one limit (`LimitUse`). Money in USD and exact micro-USD. */
export interface LimitUse {
  spent_usd: number;
  spent_micro_usd: number;
  /** 0: no limit. */
  limit_usd: number;
  limit_micro_usd: number;
  /**
   * When the window next resets (RFC 3339 UTC). Null for the total, and for the rolling five
   * hours while its spend is under the limit (then it is when enough spend has aged out).
   */
  resets_at: string | null;
  /** Seconds until `resets_at`, as the server counted them. */
  resets_in_seconds: number | null;
}

/** A key's spend against each of its limits (`SpendView`), in the relay's time zone. */
export interface SpendView {
  daily: LimitUse;
  weekly: LimitUse;
  monthly: LimitUse;
  five_hours: LimitUse;
  total: LimitUse;
}

/** The seven limits of a key: money in USD (0: none), rates as counts (0: unlimited). */
export interface KeyLimits {
  daily_limit_usd: number;
  total_limit_usd: number;
  /** Over a rolling five hours. */
  limit_5h_usd: number;
  /** From Monday midnight in the relay's time zone. */
  weekly_limit_usd: number;
  /** From the first of the month in the relay's time zone. */
  monthly_limit_usd: number;
  rpm_limit: number;
  concurrency_limit: number;
}

/** A key (`ApiKeyView`). Fields the API adds later pass through. */
export interface ApiKey extends KeyLimits {
  id: number;
  user_id: number;
  group_id: number;
  name: string;
  key_prefix: string;
  enabled: boolean;
  expires_at: string | null;
  allowed_models: string[];
  /** Spend against each limit (absent where the API did not read it, as on create). */
  spend?: SpendView;
  last_used_at: string | null;
  created_at: string;
  updated_at: string;
  [extra: string]: unknown;
}

/** A key just created or regenerated, with the full key (shown once). */
export interface CreatedKey extends ApiKey {
  key: string;
}

/** `POST /api-keys` body. */
export interface NewKey extends Partial<KeyLimits> {
  name: string;
  group_id?: number;
  expires_at?: string | null;
  allowed_models?: string[];
  enabled?: boolean;
}

/** `PUT /api-keys/{id}` body (absent fields keep their value; `null` clears). */
export type KeyUpdate = { [F in keyof KeyLimits]?: number | null } & {
  name?: string;
  enabled?: boolean;
  expires_at?: string | null;
  allowed_models?: string[];
};

export interface KeyQuery extends PageQuery {
  user_id?: number;
  group_id?: number;
}

export const listKeys = (q: KeyQuery = {}): Promise<Paged<ApiKey>> => request.get('/api-keys', q);
export const getKey = (id: number): Promise<ApiKey> => request.get(`/api-keys/${id}`);
export const createKey = (body: NewKey): Promise<CreatedKey> => request.post('/api-keys', body);
export const updateKey = (id: number, body: KeyUpdate): Promise<ApiKey> =>
  request.put(`/api-keys/${id}`, body);
export const deleteKey = (id: number): Promise<void> => request.del(`/api-keys/${id}`);
/** A new secret for the key; the old one stops working. */
export const regenerateKey = (id: number): Promise<CreatedKey> =>
  request.post(`/api-keys/${id}/regenerate`);
