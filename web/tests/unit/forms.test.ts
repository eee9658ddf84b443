import { describe, expect, it } from 'vitest';

import type { Account } from '@/api/accounts';
import type { ApiKey } from '@/api/apiKeys';
import { createBody, emptyForm, formOf, stateLabel, stateTheme, updateBody } from '@/pages/accounts/data';
import { createBody as keyCreateBody, emptyForm as emptyKeyForm, expiryOf, extraLimitsOf } from '@/pages/api-keys/data';
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

  it('edits the limit windows the API answers, and only those', () => {
    const base = { id: 1, daily_limit_usd: 0 } as unknown as ApiKey;
    expect(extraLimitsOf([base])).toEqual([]);
    expect(extraLimitsOf([base, { ...base, weekly_limit_usd: 20 } as ApiKey])).toEqual(['weekly_limit_usd']);
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
