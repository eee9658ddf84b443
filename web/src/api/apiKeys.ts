/**
 * `/api-keys`: relay keys. Limits are USD numbers here (the API converts them to micro-USD);
 * the full key comes back only from create and regenerate.
 */
import { request } from '@/utils/request';

import type { PageQuery, Paged } from './types';

/** A key (`ApiKeyView`). Fields the API adds later (more limit windows) pass through. */
export interface ApiKey {
  id: number;
  user_id: number;
  group_id: number;
  name: string;
  key_prefix: string;
  enabled: boolean;
  expires_at: string | null;
  allowed_models: string[];
  daily_limit_usd: number;
  total_limit_usd: number;
  rpm_limit: number;
  concurrency_limit: number;
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
export interface NewKey {
  name: string;
  group_id?: number;
  expires_at?: string | null;
  allowed_models?: string[];
  daily_limit_usd?: number;
  total_limit_usd?: number;
  rpm_limit?: number;
  concurrency_limit?: number;
  enabled?: boolean;
}

/** `PUT /api-keys/{id}` body (absent fields keep their value; `null` clears). */
export interface KeyUpdate {
  name?: string;
  enabled?: boolean;
  expires_at?: string | null;
  allowed_models?: string[];
  daily_limit_usd?: number | null;
  total_limit_usd?: number | null;
  rpm_limit?: number | null;
  concurrency_limit?: number | null;
}

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
