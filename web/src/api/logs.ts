/** `/logs` (own) and `/admin/logs` (everyone's): one row per relayed request. */
import { apiUrl, request } from '@/utils/request';

import type { PageQuery, Paged } from './types';

/** A usage row (`UsageLogView`); money in micro-USD (`cost_micro_usd`) and USD. */
export interface UsageLog {
  id: number;
  request_id: string;
  created_at: string;
  api_key_id: number;
  account_id: number | null;
  user_id: number;
  group_id: number;
  model: string;
  upstream_model: string;
  stream: boolean;
  status_code: number;
  outcome: string;
  error_type: string | null;
  attempts: number;
  sticky: boolean;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cache_creation_5m_input_tokens: number;
  cache_creation_1h_input_tokens: number;
  cost_micro_usd: number;
  cost_usd: number;
  duration_ms: number;
  ttfb_ms: number | null;
  [extra: string]: unknown;
}

/** Filters of the lists and exports (`user_id`, `account_id`: administrators). */
export interface LogFilter {
  api_key_id?: number;
  account_id?: number;
  user_id?: number;
  model?: string;
  status_code?: number;
  outcome?: string;
  /** RFC 3339 (inclusive). */
  from?: string;
  /** RFC 3339 (exclusive). */
  to?: string;
}

const base = (all: boolean) => (all ? '/admin/logs' : '/logs');

export const listLogs = (all: boolean, q: LogFilter & PageQuery): Promise<Paged<UsageLog>> =>
  request.get(base(all), q);
export const getLog = (all: boolean, id: number): Promise<UsageLog> =>
  request.get(`${base(all)}/${id}`);
/** The address of the CSV export with these filters. */
export const logsExportUrl = (all: boolean, q: LogFilter): string => apiUrl(`${base(all)}/export.csv`, q);
