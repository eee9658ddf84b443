/**
 * `/admin/accounts`: the upstream accounts of the pool, their test, switches, and the Claude
 * OAuth (PKCE) pair `oauth/start` + `oauth/exchange`. Secrets go in, never come back.
 */
import { request } from '@/utils/request';

import type { PageQuery, Paged } from './types';

/** `claude` (OAuth tokens) or `claude_console` (base URL + key). */
export type PlatformType = 'claude' | 'claude_console';
/** How a console key is sent upstream. */
export type AuthHeader = 'x_api_key' | 'bearer' | 'both';

/**
 * An account (`AccountView`). `state` is `active`, `cooling` or `error` today; health fields
 * that land later (limit windows, in-flight counts) pass through untyped.
 */
export interface Account {
  id: number;
  name: string;
  platform_type: PlatformType | string;
  group_id: number;
  request_url: string;
  secret_hint: string;
  has_secret_key: boolean;
  has_access_token: boolean;
  has_refresh_token: boolean;
  expires_at: string | null;
  auth_header: AuthHeader | string;
  priority: number;
  weight: number;
  max_concurrency: number;
  allowed_models: string[];
  model_mapping: Record<string, string>;
  proxy_url: string | null;
  enabled: boolean;
  state?: string;
  state_reason?: string;
  cooldown_until?: string | null;
  last_error?: string | null;
  last_used_at: string | null;
  notes: string;
  created_at: string;
  updated_at: string;
  [extra: string]: unknown;
}

/** Fields an account is created or changed with. */
export interface AccountFields {
  name?: string;
  group_id?: number;
  request_url?: string;
  secret_key?: string | null;
  access_token?: string | null;
  refresh_token?: string | null;
  expires_at?: string | null;
  auth_header?: AuthHeader;
  priority?: number;
  weight?: number;
  max_concurrency?: number;
  allowed_models?: string[];
  model_mapping?: Record<string, string>;
  proxy_url?: string | null;
  enabled?: boolean;
  notes?: string;
}

export interface NewAccount extends AccountFields {
  name: string;
  platform_type: PlatformType;
}

export interface AccountQuery extends PageQuery {
  group_id?: number;
  platform_type?: PlatformType;
  state?: string;
  enabled?: boolean;
}

/** `POST /admin/accounts/{id}/test` answer. */
export interface AccountTestResult {
  ok: boolean;
  status: number | null;
  latency_ms: number;
  model: string;
  message: string;
}

/** `POST /admin/accounts/oauth/start` answer. */
export interface OAuthStart {
  state: string;
  authorize_url: string;
  expires_at: string;
}

/** `POST /admin/accounts/oauth/exchange` body. */
export interface OAuthExchange extends Omit<AccountFields, 'secret_key' | 'access_token' | 'refresh_token' | 'expires_at' | 'auth_header'> {
  state?: string;
  code: string;
  account_id?: number;
}

/** `POST /admin/accounts/oauth/exchange` answer. */
export interface OAuthExchangeResult {
  access_token_hint: string;
  has_refresh_token: boolean;
  expires_at: string | null;
  scope: string | null;
  account: Account | null;
}

export const listAccounts = (q: AccountQuery = {}): Promise<Paged<Account>> =>
  request.get('/admin/accounts', q);
export const getAccount = (id: number): Promise<Account> => request.get(`/admin/accounts/${id}`);
export const createAccount = (body: NewAccount): Promise<Account> =>
  request.post('/admin/accounts', body);
export const updateAccount = (id: number, body: AccountFields): Promise<Account> =>
  request.put(`/admin/accounts/${id}`, body);
export const deleteAccount = (id: number): Promise<void> => request.del(`/admin/accounts/${id}`);
export const enableAccount = (id: number): Promise<Account> =>
  request.post(`/admin/accounts/${id}/enable`);
export const disableAccount = (id: number): Promise<Account> =>
  request.post(`/admin/accounts/${id}/disable`);
/** Back to `active`: clears the reason, the cooldown and the last error. */
export const resetAccount = (id: number): Promise<Account> =>
  request.post(`/admin/accounts/${id}/reset`);
/** One cheap real request to the upstream; the account's state is not changed. */
export const testAccount = (id: number): Promise<AccountTestResult> =>
  request.post(`/admin/accounts/${id}/test`);

export const oauthStart = (fields: AccountFields = {}): Promise<OAuthStart> =>
  request.post('/admin/accounts/oauth/start', fields);
export const oauthExchange = (body: OAuthExchange): Promise<OAuthExchangeResult> =>
  request.post('/admin/accounts/oauth/exchange', body);
