import { describe, expect, it } from 'vitest';

import type { Account } from '@/api/accounts';
import type { ApiKey } from '@/api/apiKeys';
import { createBody, emptyForm, formOf, stateLabel, stateTheme, updateBody } from '@/pages/accounts/data';
import { createBody as keyCreateBody, emptyForm as emptyKeyForm, expiryOf, formOf as keyFormOf, hasSpendLimit, keyRules, updateBody as keyUpdateBody, validMoneyLimit, validRateLimit } from '@/pages/api-keys/data';
import { emptyFilters, queryOf } from '@/pages/logs/data';
import { daysEnding, rangeQuery } from '@/pages/stats/data';
import { curlCheck, settingsJson, shellSetup } from '@/utils/setup';

const account: Account = {
  id: 3,
  name: 'glm',
  platform_type: 'claude_console',
  group_id: 2,
  request_url: 'https://open.bigmodel.cn/api/anthropic',
  secret_hint: 'sk-…ab12',
  has_secret_key: true,
  has_access_token: false,
  has_refresh_token: false,
  expires_at: null,
  auth_header: 'x_api_key',
  priority: 10,
  weight: 5,
  max_concurrency: 4,
  allowed_models: ['claude-*'],
  model_mapping: { 'claude-*': 'glm-4.6' },
  proxy_url: 'socks5://u:****@127.0.0.1:1080',
  enabled: true,
  state: 'active',
  state_reason: '',
  cooldown_until: null,
  last_error: null,
  last_used_at: null,
  notes: '',
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
};

describe('the account form', () => {
  it('sends a new console account with its key and mapping', () => {
    const f = emptyForm('claude_console');
    Object.assign(f, { name: ' glm ', request_url: 'https://x.io', secret_key: ' sk-1 ', mapping: [{ from: 'claude-*', to: 'glm-4.6' }, { from: '', to: 'x' }] });
    const body = createBody(f);
    expect(body).toMatchObject({ name: 'glm', platform_type: 'claude_console', request_url: 'https://x.io', secret_key: 'sk-1', auth_header: 'both', model_mapping: { 'claude-*': 'glm-4.6' } });
    expect(body).not.toHaveProperty('proxy_url');
    expect(body).not.toHaveProperty('access_token');
  });

  it('keeps stored secrets and the masked proxy unless they are typed in again', () => {
    const f = formOf(account);
    expect(f.secret_key).toBe('');
    const body = updateBody(f, account);
    expect(body).not.toHaveProperty('secret_key');
    expect(body).not.toHaveProperty('proxy_url');
    expect(body.model_mapping).toEqual({ 'claude-*': 'glm-4.6' });
    f.secret_key = 'sk-new';
    f.proxy_url = '';
    expect(updateBody(f, account)).toMatchObject({ secret_key: 'sk-new', proxy_url: null });
  });

  it('shows the state the API answers, new states as spelled', () => {
    expect(stateLabel({ enabled: true, state: 'active' })).toBe('正常');
    expect(stateTheme({ enabled: true, state: 'cooling' })).toBe('warning');
    expect(stateTheme({ enabled: false, state: 'active' })).toBe('default');
    expect(stateLabel({ enabled: true, state: 'rate_limited_5h' })).toBe('rate_limited_5h');
    expect(stateLabel({ enabled: true })).toBe('正常');
  });
});

describe('the key form', () => {
  it('sends limits in USD and the expiry in UTC', () => {
    const f = emptyKeyForm();
    Object.assign(f, { name: 'k', daily_limit_usd: 5, expires_at: '2027-12-31T23:59:59Z' });
    expect(keyCreateBody(f)).toMatchObject({ name: 'k', daily_limit_usd: 5, expires_at: '2027-12-31T23:59:59.000Z' });
    expect(expiryOf('')).toBeNull();
  });

  it('sends all seven limits, a cleared field as none', () => {
    const f = emptyKeyForm();
    Object.assign(f, { name: 'k', limit_5h_usd: 2.5, weekly_limit_usd: 20, monthly_limit_usd: undefined, rpm_limit: 30 });
    expect(keyCreateBody(f)).toMatchObject({
      limit_5h_usd: 2.5,
      daily_limit_usd: 0,
      weekly_limit_usd: 20,
      monthly_limit_usd: 0,
      total_limit_usd: 0,
      rpm_limit: 30,
      concurrency_limit: 0,
    });
  });

  it('edits the limits a key has, and sends them all back', () => {
    const key = { id: 1, name: 'k', group_id: 1, enabled: true, expires_at: null, allowed_models: [], daily_limit_usd: 5, total_limit_usd: 0, limit_5h_usd: 1, weekly_limit_usd: 20, monthly_limit_usd: 50, rpm_limit: 0, concurrency_limit: 3 } as unknown as ApiKey;
    const f = keyFormOf(key);
    expect(f).toMatchObject({ limit_5h_usd: 1, weekly_limit_usd: 20, monthly_limit_usd: 50, concurrency_limit: 3 });
    f.weekly_limit_usd = 0;
    expect(keyUpdateBody(f)).toMatchObject({ daily_limit_usd: 5, limit_5h_usd: 1, weekly_limit_usd: 0, monthly_limit_usd: 50, concurrency_limit: 3, expires_at: null });
    const old = { ...key, limit_5h_usd: undefined, weekly_limit_usd: undefined, monthly_limit_usd: undefined } as unknown as ApiKey;
    expect(keyFormOf(old)).toMatchObject({ limit_5h_usd: 0, weekly_limit_usd: 0, monthly_limit_usd: 0 });
  });

  it('accepts the limits the API accepts and no others', () => {
    expect([0, 0.01, 1e9, undefined, ''].map(validMoneyLimit)).toEqual([true, true, true, true, true]);
    expect([-1, 1e9 + 1, Number.NaN, Infinity, '5'].map(validMoneyLimit)).toEqual([false, false, false, false, false]);
    expect([0, 30, 1_000_000, undefined].map(validRateLimit)).toEqual([true, true, true, true]);
    expect([-1, 1.5, 1_000_001].map(validRateLimit)).toEqual([false, false, false]);
    const rules = keyRules();
    for (const f of ['limit_5h_usd', 'daily_limit_usd', 'weekly_limit_usd', 'monthly_limit_usd', 'total_limit_usd', 'rpm_limit', 'concurrency_limit']) expect(rules[f], f).toHaveLength(1);
  });

  it('knows whether a key has any spend limit', () => {
    expect(hasSpendLimit({ daily_limit_usd: 0, rpm_limit: 10 })).toBe(false);
    expect(hasSpendLimit({ daily_limit_usd: 0, limit_5h_usd: 3 })).toBe(true);
  });
});

describe('the log filters', () => {
  it('send only what is set, and user and account filters only for admins', () => {
    const f = { ...emptyFilters(), model: ' claude-sonnet-4-5 ', status_code: '429', account_id: 2 };
    expect(queryOf(f, true)).toMatchObject({ model: 'claude-sonnet-4-5', status_code: 429, account_id: 2 });
    expect(queryOf(f, false)).not.toHaveProperty('account_id');
    expect(queryOf(emptyFilters(), false)).toMatchObject({ model: undefined, status_code: undefined, from: undefined });
  });
});

describe('the Claude Code set-up', () => {
  it("points Claude Code at the relay's address with the key", () => {
    expect(shellSetup('http://relay:8080', 'sk-relay-1')).toBe('export ANTHROPIC_BASE_URL=http://relay:8080\nexport ANTHROPIC_AUTH_TOKEN=sk-relay-1\nclaude');
    expect(JSON.parse(settingsJson('http://relay:8080', 'sk-relay-1'))).toEqual({ env: { ANTHROPIC_BASE_URL: 'http://relay:8080', ANTHROPIC_AUTH_TOKEN: 'sk-relay-1' } });
    expect(curlCheck('http://relay:8080', 'sk-relay-1')).toContain('http://relay:8080/v1/messages');
  });
});

describe('the statistics range', () => {
  it("ends on the relay's today and covers whole days", () => {
    expect(daysEnding('2026-03-01', 30)).toEqual(['2026-01-31', '2026-03-01']);
    expect(daysEnding('2026-12-02', 1)).toEqual(['2026-12-02', '2026-12-02']);
    expect(rangeQuery(['2026-01-31', '2026-03-01'], 'day')).toEqual({ from: '2026-01-31', to: '2026-03-01' });
    expect(rangeQuery(['2026-03-01', '2026-03-01'], 'hour')).toEqual({ from: '2026-03-01 00:00:00', to: '2026-03-01 23:59:59' });
  });
});
