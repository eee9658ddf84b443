// The console in a real browser against a real relay (SQLite, a mock upstream, web/dist
// served by the relay through the front door), as issue 15's "What it must show" lists.
// Steps run in order and share the relay, the browser and what earlier steps created.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import AxeBuilder from '@axe-core/playwright';

import { Guard, launch, shot } from './browser.mjs';
import { chartDrawn, confirmDialog, inputValue, moneyShows, pick, signIn } from './helpers.mjs';
import { JSON_USAGE, STREAM_USAGE, startMockUpstream } from './mock-upstream.mjs';
import { startRelay, waitFor, webDir } from './relay.mjs';

const ADMIN_PASSWORD = 'e2e-admin-password-1';
const MODEL = 'claude-sonnet-4-5';
const results = path.join(webDir, 'test-results');
const screens = path.join(results, 'screens');
const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
/** Limits set on the e2e key, USD: far above what the suite spends, so nothing is refused. */
const WEEKLY_LIMIT = 50;
const FIVE_HOUR_LIMIT = 10;

const guard = new Guard();
let mock;
let relay;
let browser;
let admin; // the admin's context
let page; // the admin's page
const state = { key: '', keyId: 0, accountId: 0, rows: [] };

/**
 * Checks the weekly and 5-hour meters in `meters`: both show `total` µUSD spent against
 * their limit; the week counts down (and ticks) to its reset; the rolling window, far under
 * its limit, has nothing to wait for.
 */
async function checkMeters(meters, total) {
  for (const [window, limit] of [['weekly', WEEKLY_LIMIT], ['five_hours', FIVE_HOUR_LIMIT]]) {
    const m = meters.locator(`[data-testid="limit-${window}"]`);
    const spent = await m.locator('[data-testid="limit-spent"]').innerText();
    assert.ok(moneyShows(spent, total), `${window}: ${spent} spent for ${total} µUSD`);
    assert.equal(await m.locator('[data-testid="limit-of"]').innerText(), `$${limit.toFixed(2)}`);
  }
  const reset = meters.locator('[data-testid="limit-weekly"] [data-testid="limit-reset"]');
  const first = await reset.innerText();
  assert.match(first, /^(\d+d )?\d{1,2}:\d{2}(:\d{2})?$/, `the weekly countdown reads ${first}`);
  await waitFor('the weekly countdown to tick', async () => (await reset.innerText()) !== first, 5_000);
  assert.equal(await meters.locator('[data-testid="limit-five_hours"] [data-testid="limit-reset"]').count(), 0);
}

/** Goes to a console path and waits until its requests are done. */
async function visit(p, url) {
  await p.goto(`${relay.base}${url}`);
  await p.waitForLoadState('networkidle');
}

/** Screenshots of every signed-in page, suffixed `-light` or `-dark`. */
async function screenshotAll(p, mode) {
  const pages = ['dashboard', 'accounts', 'groups', 'api-keys', 'logs', 'stats', 'users', 'profile', 'help'];
  for (const name of pages) {
    await visit(p, `/${name}`);
    const charts = p.locator('.echart');
    for (let i = 0; i < (await charts.count()); i++) await chartDrawn(charts.nth(i));
    await shot(p, screens, `${name}-${mode}`);
  }
  // An address the console does not know: the relay answers the console (SPA fallback), which
  // shows its not-found page.
  await visit(p, '/no-such-page');
  await p.locator('.not-found').waitFor();
  await shot(p, screens, `not-found-${mode}`);
}

before(async () => {
  mock = await startMockUpstream();
  relay = await startRelay({
    adminPassword: ADMIN_PASSWORD,
    logDir: results,
    env: { RELAY__AUTH__OAUTH__TOKEN_URL: `${mock.url}/v1/oauth/token` },
  });
  browser = await launch();
  admin = guard.watch(await browser.newContext({ viewport: DESKTOP, timezoneId: 'Europe/Berlin', acceptDownloads: true }), 'admin');
  page = await admin.newPage();
});

after(async () => {
  await browser?.close();
  await relay?.stop();
  await mock?.close();
});

describe('the console against a real relay', () => {
  it('shows the sign-in page at the front door and signs the first admin in', async () => {
    await visit(page, '/');
    await page.waitForURL(/\/login/);
    await page.locator('[data-testid="login-form"]').waitFor();
    await shot(page, screens, 'login-light');
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await page.waitForURL(/\/dashboard/);
    await page.locator('[data-testid="card-requests"]').waitFor();
    assert.equal(await page.locator('[data-menu="accounts"]').count(), 1, 'an admin sees the accounts menu');
  });

  it('passes the accessibility check on the sign-in page and the dashboard', async () => {
    const anon = guard.watch(await browser.newContext({ viewport: DESKTOP }), 'anonymous');
    const p = await anon.newPage();
    await visit(p, '/login');
    const login = await new AxeBuilder({ page: p }).analyze();
    await anon.close();
    const dash = await new AxeBuilder({ page }).analyze();
    for (const [name, r] of [['login', login], ['dashboard', dash]]) {
      const critical = r.violations.filter((v) => v.impact === 'critical');
      assert.deepEqual(critical.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `critical a11y violations on ${name}`);
    }
  });

  it('creates a user whose password was set by the admin', async () => {
    await visit(page, '/users');
    await page.locator('[data-testid="user-create"]').click();
    const form = page.locator('[data-testid="user-form"]');
    await form.locator('input[name="username"]').fill('alice');
    await form.locator('input[name="password"]').fill('first-pass-123');
    await page.locator('[data-testid="user-submit"]').click();
    const row = page.locator('[data-testid="users-table"] tr').filter({ hasText: 'alice' });
    await row.waitFor();
    assert.match(await row.innerText(), /待修改/);
  });

  it('creates a group', async () => {
    await visit(page, '/groups');
    await page.locator('[data-testid="group-create"]').click();
    await page.locator('[data-testid="group-form"] input[name="name"]').fill('e2e-pool');
    await page.locator('[data-testid="group-submit"]').click();
    await page.locator('[data-testid="groups-table"] tr').filter({ hasText: 'e2e-pool' }).waitFor();
  });

  it('creates a claude_console account pointing at the mock upstream', async () => {
    await visit(page, '/accounts');
    await page.locator('[data-testid="account-create"]').click();
    await pick(page, 'Claude Console');
    const form = page.locator('[data-testid="account-form"]');
    await form.locator('input[name="name"]').fill('mock-console');
    await form.locator('[data-testid="account-group"]').click();
    await pick(page, 'e2e-pool');
    await form.locator('input[name="request_url"]').fill(mock.url);
    await form.locator('input[name="secret_key"]').fill('sk-ant-mock-secret-0001');
    await page.locator('[data-testid="account-submit"]').click();
    const row = page.locator('[data-testid="accounts-table"] tbody tr').filter({ hasText: 'mock-console' });
    await row.waitFor();
    assert.match(await row.innerText(), /正常/);
    const list = await page.request.get(`${relay.base}/api/v1/admin/accounts`);
    state.accountId = (await list.json()).items.find((a) => a.name === 'mock-console').id;
  });

  it('adds a Claude subscription through the OAuth (PKCE) wizard', async () => {
    await visit(page, '/accounts');
    await page.locator('[data-testid="account-create"]').click();
    await pick(page, 'OAuth');
    const wizard = page.locator('[data-testid="oauth-wizard"]');
    await wizard.locator('input[name="name"]').fill('oauth-max');
    await wizard.getByRole('button', { name: '生成授权链接' }).click();
    const link = new URL(await inputValue(page, 'oauth-url'));
    assert.equal(link.searchParams.get('code_challenge_method'), 'S256');
    const stateParam = link.searchParams.get('state');
    assert.ok(stateParam && link.searchParams.get('code_challenge'), link.href);
    await shot(page, screens, 'accounts-oauth-light');
    await wizard.locator('textarea').fill(`mock-code-123#${stateParam}`);
    await wizard.getByRole('button', { name: '完成授权' }).click();
    await wizard.locator('[data-testid="oauth-done"]').waitFor();
    assert.equal(mock.tokenRequests.length, 1);
    assert.equal(mock.tokenRequests[0].code, 'mock-code-123');
    assert.ok(mock.tokenRequests[0].code_verifier, 'the PKCE verifier is sent with the code');
    await wizard.getByRole('button', { name: '完成', exact: true }).click();
    const row = page.locator('[data-testid="accounts-table"] tbody tr').filter({ hasText: 'oauth-max' });
    await row.waitFor();
    assert.match(await row.innerText(), /Claude OAuth/);
  });

  it('creates an API key and shows the full key once with the Claude Code set-up', async () => {
    await visit(page, '/api-keys');
    await page.locator('[data-testid="key-create"]').click();
    await page.locator('[data-testid="key-form"] input[name="name"]').fill('e2e-key');
    await page.locator('[data-testid="key-group"]').click();
    await pick(page, 'e2e-pool');
    await page.locator('[data-testid="key-weekly_limit_usd"] input').fill(String(WEEKLY_LIMIT));
    await page.locator('[data-testid="key-submit"]').click();
    await page.locator('[data-testid="created-key"]').waitFor();
    state.key = await inputValue(page, 'created-key');
    assert.match(state.key, /^sk-[A-Za-z0-9_-]{20,}$/);
    const shell = await page.locator('[data-testid="created-shell"]').innerText();
    assert.ok(shell.includes(`ANTHROPIC_BASE_URL=${relay.base}`), shell);
    assert.ok(shell.includes(`ANTHROPIC_AUTH_TOKEN=${state.key}`), shell);
    await shot(page, screens, 'api-keys-created-light');
    await page.locator('[data-testid="key-created"]').getByRole('button', { name: '我已复制' }).click();
    const keys = await (await page.request.get(`${relay.base}/api/v1/api-keys`)).json();
    const key = keys.items.find((k) => k.name === 'e2e-key');
    state.keyId = key.id;
    assert.equal(key.weekly_limit_usd, WEEKLY_LIMIT, 'the weekly limit typed in the form is stored');
    assert.equal(key.limit_5h_usd, 0);
  });

  it('sets a 5-hour limit on the key in its edit dialog', async () => {
    const row = page.locator('[data-testid="keys-table"] tbody tr').filter({ hasText: 'e2e-key' });
    await row.getByText('编辑', { exact: true }).click();
    const form = page.locator('[data-testid="key-form"]');
    await form.getByText('任意连续 5 小时（滚动窗口）内的花费').waitFor();
    assert.equal(await form.locator('[data-testid="key-weekly_limit_usd"] input').inputValue(), WEEKLY_LIMIT.toFixed(2));
    await form.locator('[data-testid="key-limit_5h_usd"] input').fill(String(FIVE_HOUR_LIMIT));
    await shot(page, screens, 'api-keys-form-light');
    await page.locator('[data-testid="key-submit"]').click();
    await form.waitFor({ state: 'hidden' });
    const key = await (await page.request.get(`${relay.base}/api/v1/api-keys/${state.keyId}`)).json();
    assert.equal(key.limit_5h_usd, FIVE_HOUR_LIMIT);
    assert.equal(key.weekly_limit_usd, WEEKLY_LIMIT, 'the weekly limit is kept');
    await page.locator(`[data-testid="key-limits-${state.keyId}"] [data-testid="limit-five_hours"]`).waitFor();
  });

  it('relays one JSON and one streaming request with that key', async () => {
    const headers = { 'x-api-key': state.key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
    // The key and the account reach the relay's snapshot within a second of their creation.
    await waitFor('the key to be usable', async () => {
      const r = await fetch(`${relay.base}/v1/models`, { headers });
      return r.ok && (await r.json()).data.length > 0;
    });
    const msg = { model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] };
    const plain = await fetch(`${relay.base}/v1/messages`, { method: 'POST', headers, body: JSON.stringify(msg) });
    assert.equal(plain.status, 200, await plain.clone().text());
    assert.equal((await plain.json()).usage.output_tokens, JSON_USAGE.output_tokens);
    const streamed = await fetch(`${relay.base}/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ ...msg, stream: true }) });
    assert.equal(streamed.status, 200);
    assert.match(await streamed.text(), /event: message_stop/);
    assert.equal(mock.requests.length, 2);
    const logs = await waitFor('both usage rows', async () => {
      const r = await (await page.request.get(`${relay.base}/api/v1/admin/logs?api_key_id=${state.keyId}`)).json();
      return r.total >= 2 && r.items.length >= 2 ? r : null;
    });
    state.rows = logs.items;
  });

  it('lists both requests in the logs with their token counts and cost', async () => {
    const price = (await (await page.request.get(`${relay.base}/api/v1/pricing?model=${MODEL}`)).json()).resolved;
    await visit(page, '/logs');
    for (const [stream, usage] of [[false, JSON_USAGE], [true, STREAM_USAGE]]) {
      const row = state.rows.find((r) => r.stream === stream);
      assert.ok(row, `a ${stream ? 'streaming' : 'JSON'} row`);
      assert.equal(row.input_tokens, usage.input_tokens);
      assert.equal(row.output_tokens, usage.output_tokens);
      assert.equal(row.cache_read_input_tokens, usage.cache_read_input_tokens);
      // USD per million tokens times tokens is micro-USD.
      const expected = usage.input_tokens * price.input + usage.output_tokens * price.output + usage.cache_read_input_tokens * price.cache_read;
      assert.ok(Math.abs(row.cost_micro_usd - expected) <= 1, `cost ${row.cost_micro_usd} µUSD, expected ${expected}`);
      const tokens = await page.locator(`[data-testid="log-tokens-${row.id}"]`).innerText();
      assert.ok(tokens.includes(usage.input_tokens.toLocaleString('en-US')) && tokens.includes(usage.output_tokens.toLocaleString('en-US')), tokens);
      const costText = await page.locator(`[data-testid="log-cost-${row.id}"]`).innerText();
      assert.ok(moneyShows(costText, row.cost_micro_usd), `cost cell ${costText} for ${row.cost_micro_usd} µUSD`);
      await page.locator(`[data-testid="log-cost-${row.id}"]`).click();
      const detail = page.locator('[data-testid="log-detail"]');
      await detail.waitFor();
      assert.equal(await detail.locator('[data-testid="detail-input"]').innerText(), usage.input_tokens.toLocaleString('en-US'));
      assert.equal(await detail.locator('[data-testid="detail-output"]').innerText(), usage.output_tokens.toLocaleString('en-US'));
      assert.equal(await detail.locator('[data-testid="detail-cache-read"]').innerText(), usage.cache_read_input_tokens.toLocaleString('en-US'));
      assert.ok((await detail.locator('[data-testid="detail-cost"]').innerText()).includes(`${row.cost_micro_usd.toLocaleString('en-US')} µUSD`));
      if (!stream) await shot(page, screens, 'logs-detail-light');
      await page.keyboard.press('Escape');
      await detail.waitFor({ state: 'hidden' });
    }
  });

  it('exports the logs and the statistics as CSV', async () => {
    await visit(page, '/logs');
    const [logs] = await Promise.all([page.waitForEvent('download'), page.locator('.export-link').click()]);
    const lines = fs.readFileSync(await logs.path(), 'utf8').trim().split(/\r?\n/);
    assert.match(lines[0], /^id,request_id,created_at,/);
    assert.equal(lines.length, 3, 'a header and the two requests');
    await visit(page, '/stats');
    const [models] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-dim"]').click()]);
    const rows = fs.readFileSync(await models.path(), 'utf8').trim().split(/\r?\n/);
    assert.match(rows[0], /^model,requests,/);
    assert.ok(rows[1]?.startsWith(`${MODEL},2,`), rows.join('\n'));
  });

  it("shows the requests in the key's usage and on the dashboard's trend chart", async () => {
    const total = state.rows.reduce((a, r) => a + r.cost_micro_usd, 0);
    await visit(page, '/api-keys');
    await page.locator(`[data-testid="key-usage-${state.keyId}"]`).click();
    await page.locator('[data-testid="key-usage"]').waitFor();
    await waitFor('the key usage to load', async () => (await page.locator('[data-testid="key-usage-today-requests"]').innerText()) === '2');
    const cost = await page.locator('[data-testid="key-usage-today-cost"]').innerText();
    assert.ok(moneyShows(cost, total), `key usage shows ${cost} for ${total} µUSD`);
    await page.keyboard.press('Escape');
    await visit(page, '/dashboard');
    const chart = page.locator('[data-testid="trend-chart"]');
    await chartDrawn(chart);
    assert.match(await chart.getAttribute('aria-label'), /：2 次请求/);
    assert.ok((await chart.locator('path').count()) > 0, 'the trend chart draws its series');
    assert.equal(await page.locator('[data-testid="card-requests"] .stat-value').innerText(), '2');
  });

  it('shows spend against the weekly and the 5-hour limit on the keys page, counting down to the reset', async () => {
    const total = state.rows.reduce((a, r) => a + r.cost_micro_usd, 0);
    await waitFor('the spend to reach the key object', async () => {
      const k = await (await page.request.get(`${relay.base}/api/v1/api-keys/${state.keyId}`)).json();
      return k.spend.weekly.spent_micro_usd === total && k.spend.five_hours.spent_micro_usd === total;
    });
    await visit(page, '/api-keys');
    const limits = page.locator(`[data-testid="key-limits-${state.keyId}"]`);
    await limits.waitFor();
    await checkMeters(limits, total);
    // Only the windows with a limit are shown.
    assert.equal(await limits.locator('[data-testid="limit-daily"], [data-testid="limit-monthly"], [data-testid="limit-total"]').count(), 0);
    await shot(page, screens, 'api-keys-limits-light');
  });

  it('disables the account after a confirmation and shows its new state', async () => {
    await visit(page, '/accounts');
    await page.locator(`[data-testid="account-switch-${state.accountId}"]`).click();
    await confirmDialog(page, '禁用');
    await waitFor('the state to change', async () => /已禁用/.test(await page.locator(`[data-testid="account-state-${state.accountId}"]`).innerText()));
    const a = await (await page.request.get(`${relay.base}/api/v1/admin/accounts/${state.accountId}`)).json();
    assert.equal(a.enabled, false);
  });

  it('screenshots every page in light mode, and the phone layout', async () => {
    await screenshotAll(page, 'light');
    const phone = guard.watch(await browser.newContext({ viewport: PHONE, storageState: await admin.storageState(), isMobile: true, hasTouch: true }), 'phone');
    const p = await phone.newPage();
    for (const name of ['dashboard', 'api-keys']) {
      await visit(p, `/${name}`);
      if (name === 'dashboard') await chartDrawn(p.locator('[data-testid="trend-chart"]'));
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `${name} fits 390 px (scroll width ${width})`);
      await shot(p, screens, `${name}-phone-light`);
    }
    await phone.close();
  });

  it('passes the accessibility check on the keys page', async () => {
    await visit(page, '/api-keys');
    const r = await new AxeBuilder({ page }).analyze();
    const critical = r.violations.filter((v) => v.impact === 'critical');
    assert.deepEqual(critical.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
  });

  it('switches to dark theme and English, and both survive a reload', async () => {
    await visit(page, '/dashboard');
    await page.locator('[data-testid="theme-switch"]').click();
    await pick(page, '深色');
    await page.locator('[data-testid="locale-switch"]').click();
    await pick(page, 'English');
    await page.locator('[data-menu="dashboard"]', { hasText: 'Dashboard' }).waitFor();
    await page.reload();
    await page.waitForLoadState('networkidle');
    assert.equal(await page.locator('html').getAttribute('theme-mode'), 'dark');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en-US');
    await page.locator('[data-menu="dashboard"]', { hasText: 'Dashboard' }).waitFor();
    assert.match(await page.locator('[data-testid="card-requests"]').innerText(), /Requests today/);
  });

  it('screenshots every page in dark mode, and the phone layout', async () => {
    await screenshotAll(page, 'dark');
    const phone = guard.watch(await browser.newContext({ viewport: PHONE, storageState: await admin.storageState(), isMobile: true, hasTouch: true }), 'phone');
    const p = await phone.newPage();
    for (const name of ['dashboard', 'api-keys']) {
      await visit(p, `/${name}`);
      if (name === 'dashboard') await chartDrawn(p.locator('[data-testid="trend-chart"]'));
      await shot(p, screens, `${name}-phone-dark`);
    }
    await phone.close();
  });

  it("opens the public usage page without signing in and shows today's spend", async () => {
    const total = state.rows.reduce((a, r) => a + r.cost_micro_usd, 0);
    for (const mode of ['light', 'dark']) {
      const anon = guard.watch(await browser.newContext({ viewport: DESKTOP }), 'public');
      await anon.addInitScript((m) => {
        if (window.location.protocol.startsWith('http')) window.localStorage.setItem('relay.theme', m);
      }, mode);
      const p = await anon.newPage();
      await visit(p, '/key-usage');
      await p.locator('[data-testid="key-usage-input"] input').fill(state.key);
      const [req] = await Promise.all([p.waitForRequest((r) => r.url().includes('/public/key-usage')), p.locator('[data-testid="key-usage-submit"]').click()]);
      assert.equal(req.method(), 'POST');
      assert.ok(!req.url().includes(state.key) && !p.url().includes(state.key), 'the key never appears in a URL');
      assert.equal(JSON.parse(req.postData() ?? '{}').key, state.key);
      const meters = p.locator('[data-testid="key-usage-limits"]');
      const cost = await meters.locator('[data-testid="limit-daily"] [data-testid="limit-spent"]').innerText();
      assert.ok(moneyShows(cost, total), `today's spend ${cost} for ${total} µUSD`);
      await meters.locator('[data-testid="limit-daily"] [data-testid="limit-reset"]').waitFor();
      await checkMeters(meters, total);
      assert.equal(await p.locator('[data-testid="key-usage-recent"] tbody tr').count(), 2);
      await chartDrawn(p.locator('.echart'));
      await shot(p, screens, `key-usage-${mode}`);
      if (mode === 'dark') {
        await visit(p, '/login');
        await shot(p, screens, 'login-dark');
      }
      await anon.close();
    }
  });

  it('forces the new user through the password change, then shows only their own things', async () => {
    const ctx = guard.watch(await browser.newContext({ viewport: DESKTOP }), 'alice');
    const p = await ctx.newPage();
    await visit(p, '/login');
    await signIn(p, 'alice', 'first-pass-123');
    const form = p.locator('[data-testid="password-form"]');
    await form.waitFor();
    await form.locator('input[name="old_password"]').fill('first-pass-123');
    await form.locator('input[name="new_password"]').fill('alice-own-pass-456');
    await form.locator('input[name="confirm_password"]').fill('alice-own-pass-456');
    await form.locator('button[type="submit"]').click();
    await p.waitForURL(/\/dashboard/);
    await p.locator('[data-menu="dashboard"]').waitFor();
    // Let the dashboard's own requests finish: leaving mid-flight aborts them (a failed request).
    await p.locator('[data-testid="card-requests"]').waitFor();
    await p.waitForLoadState('networkidle');
    assert.equal(await p.locator('[data-menu="accounts"]').count(), 0, 'no accounts menu for a user');
    assert.equal(await p.locator('[data-menu="users"]').count(), 0, 'no users menu for a user');
    await visit(p, '/accounts');
    await p.locator('[data-testid="forbidden"]').waitFor();
    await shot(p, screens, 'forbidden-light');
    await p.evaluate(() => window.localStorage.setItem('relay.theme', 'dark'));
    await p.reload();
    await p.locator('[data-testid="forbidden"]').waitFor();
    assert.equal(await p.locator('html').getAttribute('theme-mode'), 'dark');
    await shot(p, screens, 'forbidden-dark');
    await p.evaluate(() => window.localStorage.setItem('relay.theme', 'light'));
    await visit(p, '/users');
    await p.locator('[data-testid="forbidden"]').waitFor();
    await visit(p, '/api-keys');
    await p.locator('[data-testid="key-create"]').click();
    await p.locator('[data-testid="key-form"] input[name="name"]').fill('alice-key');
    await p.locator('[data-testid="key-submit"]').click();
    await p.locator('[data-testid="created-key"]').waitFor();
    await p.locator('[data-testid="key-created"]').getByRole('button', { name: '我已复制' }).click();
    const rows = p.locator('[data-testid="keys-table"] tbody tr');
    await rows.filter({ hasText: 'alice-key' }).waitFor();
    assert.equal(await rows.count(), 1, 'alice sees her one key only');
    assert.equal(await rows.filter({ hasText: 'e2e-key' }).count(), 0);
    await visit(p, '/logs');
    await p.locator('[data-testid="logs-table"]').getByText('没有符合条件的请求').waitFor();
    await visit(p, '/groups');
    await p.locator('[data-testid="groups-table"] tr').filter({ hasText: 'default' }).getByText('成员').click();
    const members = p.locator('[data-testid="members-table"] tbody tr');
    await members.filter({ hasText: 'alice' }).waitFor();
    assert.equal(await members.count(), 1, 'a user sees only their own membership');
    assert.equal(await p.locator('[data-testid="member-add"]').count(), 0, 'and cannot add members');
    await ctx.close();
  });

  it('saw no console error, uncaught exception or failed request', () => {
    assert.deepEqual(guard.problems, []);
  });
});
