/** `/stats/*`: sums from the usage roll-ups, scoped by role (a user sees their own keys). */
import { apiUrl, request } from '@/utils/request';

import type { PageQuery, Paged } from './types';

/** Request, error, token and cost sums (`TotalsView`). */
export interface Totals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  total_tokens: number;
  cost_micro_usd: number;
  cost_usd: number;
}

export interface DayTotals extends Totals {
  day: string;
}

export interface Overview {
  timezone: string;
  today: DayTotals;
  yesterday: DayTotals;
  keys: { total: number };
  accounts?: { total: number; enabled: number; active: number; cooling: number; error: number };
}

export interface TrendPoint extends Totals {
  bucket: string;
  start: string;
}

export interface Trend {
  granularity: 'day' | 'hour' | string;
  timezone: string;
  from: string;
  to: string;
  items: TrendPoint[];
}

export interface ModelStat extends Totals {
  model: string;
}

export interface AccountStat extends Totals {
  account_id: number | null;
  account_name: string | null;
  platform_type: string | null;
}

export interface KeyStat extends Totals {
  api_key_id: number;
  name: string | null;
  key_prefix: string | null;
  user_id: number | null;
}

/** Whose usage (`user_id`, `account_id`: administrators). */
export interface Scope {
  user_id?: number;
  api_key_id?: number;
  account_id?: number;
}

/** Days `YYYY-MM-DD` in the relay's time zone, both inclusive. */
export interface DayRange {
  from?: string;
  to?: string;
}

export interface TrendQuery extends Scope, DayRange {
  granularity?: 'day' | 'hour';
}

export const getOverview = (scope: Scope = {}): Promise<Overview> => request.get('/stats/overview', scope);
export const getTrend = (q: TrendQuery = {}): Promise<Trend> => request.get('/stats/trend', q);
export const statsByModel = (q: Scope & DayRange & PageQuery = {}): Promise<Paged<ModelStat>> =>
  request.get('/stats/models', q);
export const statsByAccount = (q: Scope & DayRange & PageQuery = {}): Promise<Paged<AccountStat>> =>
  request.get('/stats/accounts', q);
export const statsByKey = (q: Scope & DayRange & PageQuery = {}): Promise<Paged<KeyStat>> =>
  request.get('/stats/keys', q);

/** The address of a CSV export (`trend`, `models`, `accounts`, `keys`). */
export const statsExportUrl = (what: 'trend' | 'models' | 'accounts' | 'keys', q: object): string =>
  apiUrl(`/stats/${what}/export.csv`, q);
