import type { AxiosAdapter, AxiosRequestConfig, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { AxiosError } from 'axios';
import { describe, expect, it, vi } from 'vitest';

import { ApiError, apiUrl, cleanParams, createClient } from '@/utils/request';

/** An adapter that answers `status` with `data` and records every request it sees. */
function fakeServer(status: number, data: unknown) {
  const seen: InternalAxiosRequestConfig[] = [];
  const adapter: AxiosAdapter = (config) => {
    seen.push(config);
    const response: AxiosResponse = { data, status, statusText: String(status), headers: {}, config };
    if (status >= 400) {
      return Promise.reject(new AxiosError(`status ${status}`, AxiosError.ERR_BAD_RESPONSE, config, {}, response));
    }
    return Promise.resolve(response);
  };
  return { adapter, seen };
}

function hooks() {
  return { notify: vi.fn(), onUnauthorized: vi.fn(), onPasswordChangeRequired: vi.fn() };
}

const errorBody = (code: string, message: string, field?: string) => ({ error: { code, message, ...(field ? { field } : {}) } });

describe('the request client', () => {
  it('sends X-Requested-With and credentials to /api/v1 and answers the body', async () => {
    const { adapter, seen } = fakeServer(200, { id: 7, name: 'k' });
    const client = createClient(hooks(), adapter);
    await expect(client.post('/api-keys', { name: 'k' })).resolves.toEqual({ id: 7, name: 'k' });
    const req = seen[0] as AxiosRequestConfig;
    expect(req.baseURL).toBe('/api/v1');
    expect(req.url).toBe('/api-keys');
    expect(req.withCredentials).toBe(true);
    expect((req.headers as Record<string, string>)['X-Requested-With']).toBe('XMLHttpRequest');
  });

  it("turns the API's error body into an ApiError and shows its message", async () => {
    const h = hooks();
    const { adapter } = fakeServer(400, errorBody('invalid', '`name` must not be empty', 'name'));
    const client = createClient(h, adapter);
    const err = await client.post('/groups', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid', field: 'name', message: '`name` must not be empty' });
    expect(h.notify).toHaveBeenCalledWith('`name` must not be empty');
  });

  it('never retries a failed write', async () => {
    const { adapter, seen } = fakeServer(503, errorBody('unavailable', 'the database does not answer'));
    const client = createClient(hooks(), adapter);
    await expect(client.post('/admin/accounts', { name: 'a' })).rejects.toBeInstanceOf(ApiError);
    await expect(client.put('/admin/accounts/1', { name: 'a' })).rejects.toBeInstanceOf(ApiError);
    expect(seen.map((r) => r.method)).toEqual(['post', 'put']);
  });

  it('sends a 401 to the sign-in page without a toast', async () => {
    const h = hooks();
    const { adapter } = fakeServer(401, errorBody('invalid_token', 'sign in again'));
    const client = createClient(h, adapter);
    await expect(client.get('/user/profile')).rejects.toMatchObject({ status: 401 });
    expect(h.onUnauthorized).toHaveBeenCalledTimes(1);
    expect(h.notify).not.toHaveBeenCalled();
  });

  it('leaves an expected 401 (a wrong password at sign-in) to the caller', async () => {
    const h = hooks();
    const { adapter } = fakeServer(401, errorBody('invalid_credentials', 'wrong username or password'));
    const client = createClient(h, adapter);
    await expect(client.post('/auth/login', {}, { noAuthRedirect: true, silent: true })).rejects.toMatchObject({
      code: 'invalid_credentials',
      message: 'wrong username or password',
    });
    expect(h.onUnauthorized).not.toHaveBeenCalled();
    expect(h.notify).not.toHaveBeenCalled();
  });

  it('sends a pending forced password change to the password form', async () => {
    const h = hooks();
    const { adapter } = fakeServer(403, errorBody('password_change_required', 'change your password first'));
    const client = createClient(h, adapter);
    await expect(client.get('/api-keys')).rejects.toMatchObject({ status: 403, code: 'password_change_required' });
    expect(h.onPasswordChangeRequired).toHaveBeenCalledTimes(1);
    expect(h.onUnauthorized).not.toHaveBeenCalled();
  });

  it('reports a transport failure with status 0', async () => {
    const h = hooks();
    const adapter: AxiosAdapter = (config) => Promise.reject(new AxiosError('Network Error', AxiosError.ERR_NETWORK, config));
    const client = createClient(h, adapter);
    await expect(client.get('/logs')).rejects.toMatchObject({ status: 0, code: 'network_error' });
    expect(h.notify).toHaveBeenCalledWith('Network Error');
  });

  it('drops empty filters from query strings and download addresses', async () => {
    expect(cleanParams({ a: 1, b: '', c: undefined, d: null, e: 0, f: false })).toEqual({ a: 1, e: 0, f: false });
    expect(apiUrl('/logs/export.csv', { model: 'claude-sonnet-4-5', outcome: '', api_key_id: 3 })).toBe(
      '/api/v1/logs/export.csv?model=claude-sonnet-4-5&api_key_id=3',
    );
    const { adapter, seen } = fakeServer(200, { items: [], total: 0, page: 1, page_size: 20 });
    await createClient(hooks(), adapter).get('/logs', { model: '', page: 2 });
    expect(seen[0]?.params).toEqual({ page: 2 });
  });
});
