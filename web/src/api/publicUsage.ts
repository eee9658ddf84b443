/**
 * `POST /public/key-usage`: a key holder's own view of a key, without signing in. The key is
 * sent in the body, never in a URL (it would land in logs and the history).
 */
import { request } from '@/utils/request';

import type { KeyLimits, SpendView } from './apiKeys';
import type { Totals } from './stats';

export interface KeyDay extends Totals {
  day: string;
}

export interface KeyRequest {
  created_at: string;
  model: string;
  status_code: number;
  outcome: string;
  stream: boolean;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cost_usd: number;
  duration_ms: number;
}

/** Money here is USD, except in `spend`, which has exact micro-USD too. */
export interface KeyUsage extends KeyLimits {
  name: string;
  key_prefix: string;
  enabled: boolean;
  status: 'active' | 'disabled' | 'expired' | string;
  expires_at: string | null;
  allowed_models: string[];
  today_cost_usd: number;
  daily_reset_at: string;
  daily_reset_in_seconds: number;
  total_cost_usd: number;
  /** Spend against every limit and when each window resets. */
  spend: SpendView;
  timezone: string;
  trend: KeyDay[];
  recent_requests: KeyRequest[];
  [extra: string]: unknown;
}

/** Looks a key up; an unknown key is a 404 (`not_found`), shown by the page itself. */
export function keyUsage(key: string): Promise<KeyUsage> {
  return request.post('/public/key-usage', { key }, { silent: true, noAuthRedirect: true });
}
