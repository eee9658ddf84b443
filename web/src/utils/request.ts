/**
 * The one HTTP client of the console: an axios instance on `/api/v1` that authenticates with
 * the session cookie (set by `POST /auth/login`, HttpOnly), sends `X-Requested-With` so that
 * cookie-authenticated writes pass the API's CSRF check, unwraps the body, turns
 * `{error:{code,message,field}}` answers into {@link ApiError}, shows the API's message in a
 * toast, sends a 401 to the sign-in page, and a 403 `password_change_required` to the
 * password form. Nothing is ever retried: a write that failed is reported, not repeated.
 */
import axios from 'axios';
import type { AxiosAdapter, AxiosError, AxiosInstance, AxiosRequestConfig } from 'axios';

/** An error answered by the API (or a transport failure, with `status` 0). */
export class ApiError extends Error {
  /** HTTP status, 0 when no answer arrived. */
  readonly status: number;
  /** The API's snake_case code (`invalid_credentials`, `network_error`, …). */
  readonly code: string;
  /** The field the error is about, when the API named one. */
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** Per-request options on top of axios's own. */
export interface RequestOptions {
  /** Do not show a toast for a failure (the caller shows the error itself). */
  silent?: boolean;
  /** A 401 is an expected answer here (sign-in): do not redirect to the sign-in page. */
  noAuthRedirect?: boolean;
}

/** What the client calls out to; set once by the app, replaced in tests. */
export interface RequestHooks {
  /** Shows an error message to the user. */
  notify: (message: string) => void;
  /** The session is gone (401): go to the sign-in page. */
  onUnauthorized: () => void;
  /** The password must be changed before anything else (403 `password_change_required`). */
  onPasswordChangeRequired: () => void;
}

type Config = AxiosRequestConfig & RequestOptions;

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; field?: unknown };
}

/** The {@link ApiError} of a failed axios call. */
export function toApiError(err: unknown, fallback = 'request failed'): ApiError {
  if (err instanceof ApiError) return err;
  const ax = err as AxiosError<ErrorBody>;
  if (ax && ax.isAxiosError) {
    const status = ax.response?.status ?? 0;
    const body = ax.response?.data?.error;
    if (body && typeof body.message === 'string') {
      return new ApiError(
        status,
        typeof body.code === 'string' ? body.code : 'error',
        body.message,
        typeof body.field === 'string' ? body.field : undefined,
      );
    }
    if (status === 0) {
      const code = ax.code === 'ECONNABORTED' ? 'timeout' : 'network_error';
      return new ApiError(0, code, ax.message || fallback);
    }
    return new ApiError(status, 'http_error', `HTTP ${status}`);
  }
  return new ApiError(0, 'error', err instanceof Error ? err.message : fallback);
}

/** A typed client over one axios instance. */
export interface Client {
  /** The underlying instance (for tests). */
  readonly axios: AxiosInstance;
  get<T>(url: string, params?: object, opts?: RequestOptions): Promise<T>;
  post<T>(url: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  put<T>(url: string, body?: unknown, opts?: RequestOptions): Promise<T>;
  del<T = void>(url: string, opts?: RequestOptions): Promise<T>;
  /** Replaces the hooks (the app sets them once its router and toasts exist). */
  setHooks(hooks: Partial<RequestHooks>): void;
}

/** Drops empty values from query parameters so that filters left blank are not sent. */
export function cleanParams(params?: object): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    out[k] = v;
  }
  return out;
}

/** Builds a client; `adapter` replaces the network in tests. */
export function createClient(hooks: Partial<RequestHooks> = {}, adapter?: AxiosAdapter): Client {
  const current: RequestHooks = {
    notify: () => undefined,
    onUnauthorized: () => undefined,
    onPasswordChangeRequired: () => undefined,
    ...hooks,
  };
  const instance = axios.create({
    baseURL: '/api/v1',
    timeout: 60_000,
    withCredentials: true,
    headers: { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' },
    ...(adapter ? { adapter } : {}),
  });

  async function send<T>(config: Config): Promise<T> {
    const { silent, noAuthRedirect, ...axiosConfig } = config;
    try {
      const resp = await instance.request<T>(axiosConfig);
      return resp.data;
    } catch (err) {
      const e = toApiError(err);
      if (e.status === 401 && !noAuthRedirect) {
        current.onUnauthorized();
      } else if (e.status === 403 && e.code === 'password_change_required') {
        current.onPasswordChangeRequired();
      }
      if (!silent && !(e.status === 401 && !noAuthRedirect)) {
        current.notify(e.message);
      }
      throw e;
    }
  }

  return {
    axios: instance,
    get: (url, params, opts) => send({ method: 'GET', url, params: cleanParams(params), ...opts }),
    post: (url, body, opts) => send({ method: 'POST', url, data: body, ...opts }),
    put: (url, body, opts) => send({ method: 'PUT', url, data: body, ...opts }),
    del: (url, opts) => send({ method: 'DELETE', url, ...opts }),
    setHooks(h) {
      Object.assign(current, h);
    },
  };
}

/** The console's client. */
export const request: Client = createClient();

/** An absolute `/api/v1` URL with a query string, for downloads (CSV) opened by the browser. */
export function apiUrl(path: string, params?: object): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(cleanParams(params) ?? {})) q.set(k, String(v));
  const qs = q.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ''}`;
}
