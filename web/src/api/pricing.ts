/** `GET /pricing`: the price table, USD per million tokens, in match order. */
import { request } from '@/utils/request';

/** Prices of one entry, USD per million tokens. */
export interface Price {
  input: number;
  output: number;
  cache_write_5m: number;
  cache_write_1h: number;
  cache_read: number;
}

export interface PriceEntry extends Price {
  pattern: string;
  match: 'exact' | 'glob' | string;
}

export interface ResolvedPrice extends Price {
  model: string;
  matched: string;
  pattern: string | null;
}

export interface Pricing {
  currency: string;
  unit: string;
  models: PriceEntry[];
  default: Price;
  resolved?: ResolvedPrice | null;
}

export const getPricing = (model?: string): Promise<Pricing> =>
  request.get('/pricing', model ? { model } : {});
