/**
 * The accounts page's pure parts: how a state is shown, the form's model and rules, and the
 * conversion between the form and the API's bodies (secrets are sent only when typed in).
 */
import type { FormRule } from 'tdesign-vue-next';

import type { Account, AccountFields, AuthHeader, NewAccount, PlatformType } from '@/api/accounts';
import { t } from '@/locales';

/** TDesign tag theme of an account state. */
export function stateTheme(a: Pick<Account, 'enabled' | 'state'>): 'success' | 'warning' | 'danger' | 'default' {
  if (!a.enabled) return 'default';
  switch (a.state ?? 'active') {
    case 'active':
      return 'success';
    case 'cooling':
      return 'warning';
    case 'error':
      return 'danger';
    default:
      return 'default';
  }
}

/** The state's label: known states translated, new ones shown as the API spells them. */
export function stateLabel(a: Pick<Account, 'enabled' | 'state'>): string {
  if (!a.enabled) return t('accounts.stateDisabled');
  const s = a.state ?? 'active';
  const known: Record<string, string> = {
    active: t('accounts.stateActive'),
    cooling: t('accounts.stateCooling'),
    error: t('accounts.stateError'),
  };
  return known[s] ?? s;
}

/** One row of the model mapping editor. */
export interface MappingRow {
  from: string;
  to: string;
}

/** The account form's model. */
export interface AccountForm {
  name: string;
  platform_type: PlatformType;
  group_id: number | undefined;
  request_url: string;
  secret_key: string;
  access_token: string;
  refresh_token: string;
  auth_header: AuthHeader;
  priority: number;
  weight: number;
  max_concurrency: number;
  allowed_models: string[];
  mapping: MappingRow[];
  proxy_url: string;
  enabled: boolean;
  notes: string;
}

export function emptyForm(kind: PlatformType): AccountForm {
  return {
    name: '',
    platform_type: kind,
    group_id: undefined,
    request_url: kind === 'claude_console' ? 'https://api.anthropic.com' : '',
    secret_key: '',
    access_token: '',
    refresh_token: '',
    auth_header: 'both',
    priority: 100,
    weight: 100,
    max_concurrency: 0,
    allowed_models: [],
    mapping: [],
    proxy_url: '',
    enabled: true,
    notes: '',
  };
}

/** The form filled from a stored account (secrets stay empty: typing one replaces it). */
export function formOf(a: Account): AccountForm {
  return {
    ...emptyForm(a.platform_type === 'claude' ? 'claude' : 'claude_console'),
    name: a.name,
    group_id: a.group_id,
    request_url: a.request_url,
    auth_header: (['x_api_key', 'bearer', 'both'].includes(a.auth_header) ? a.auth_header : 'both') as AuthHeader,
    priority: a.priority,
    weight: a.weight,
    max_concurrency: a.max_concurrency,
    allowed_models: [...a.allowed_models],
    mapping: Object.entries(a.model_mapping ?? {}).map(([from, to]) => ({ from, to })),
    // The stored proxy comes back masked; it is only sent when changed.
    proxy_url: a.proxy_url ?? '',
    enabled: a.enabled,
    notes: a.notes,
  };
}

function mappingOf(rows: MappingRow[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const from = r.from.trim();
    const to = r.to.trim();
    if (from && to) out[from] = to;
  }
  return out;
}

/** The fields every kind shares. */
function common(f: AccountForm): AccountFields {
  return {
    name: f.name.trim(),
    ...(f.group_id ? { group_id: f.group_id } : {}),
    request_url: f.request_url.trim(),
    priority: f.priority,
    weight: f.weight,
    max_concurrency: f.max_concurrency,
    allowed_models: f.allowed_models.map((m) => m.trim()).filter(Boolean),
    model_mapping: mappingOf(f.mapping),
    enabled: f.enabled,
    notes: f.notes,
  };
}

/** `POST /admin/accounts` body of the form. */
export function createBody(f: AccountForm): NewAccount {
  const body: NewAccount = { ...common(f), name: f.name.trim(), platform_type: f.platform_type };
  if (f.proxy_url.trim()) body.proxy_url = f.proxy_url.trim();
  if (f.platform_type === 'claude_console') {
    body.secret_key = f.secret_key.trim();
    body.auth_header = f.auth_header;
  } else {
    if (f.access_token.trim()) body.access_token = f.access_token.trim();
    if (f.refresh_token.trim()) body.refresh_token = f.refresh_token.trim();
  }
  return body;
}

/** `PUT /admin/accounts/{id}` body: only secrets that were typed in, the proxy only when changed. */
export function updateBody(f: AccountForm, before: Account): AccountFields {
  const body: AccountFields = common(f);
  const proxy = f.proxy_url.trim();
  if (proxy !== (before.proxy_url ?? '')) body.proxy_url = proxy === '' ? null : proxy;
  if (f.platform_type === 'claude_console') {
    body.auth_header = f.auth_header;
    if (f.secret_key.trim()) body.secret_key = f.secret_key.trim();
  } else {
    if (f.access_token.trim()) body.access_token = f.access_token.trim();
    if (f.refresh_token.trim()) body.refresh_token = f.refresh_token.trim();
  }
  return body;
}

const URL_RE = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
const PROXY_RE = /^(https?|socks5h?):\/\/\S+$/;

export function formRules(editing: boolean, kind: PlatformType): Record<string, FormRule[]> {
  return {
    name: [{ required: true, message: t('accounts.nameRequired') }, { max: 128, message: t('common.tooLong', { n: 128 }) }],
    request_url:
      kind === 'claude_console'
        ? [{ required: true, message: t('accounts.urlRequired') }, { pattern: URL_RE, message: t('accounts.urlInvalid') }]
        : [{ validator: (v: string) => !v || URL_RE.test(v), message: t('accounts.urlInvalid') }],
    secret_key: kind === 'claude_console' && !editing ? [{ required: true, message: t('accounts.keyRequired') }] : [],
    access_token: kind === 'claude' && !editing ? [{ required: true, message: t('accounts.tokenRequired') }] : [],
    proxy_url: [{ validator: (v: string) => !v || PROXY_RE.test(v), message: t('accounts.proxyInvalid') }],
    weight: [{ validator: (v: number) => v >= 1, message: t('accounts.weightMin') }],
  };
}

/** The table's columns; cells are the page's slots of the same names. */
export function columns(): { colKey: string; title: string; width?: number; minWidth?: number; fixed?: 'left' | 'right'; align?: 'left' | 'right' | 'center'; ellipsis?: boolean }[] {
  return [
    { colKey: 'name', title: t('accounts.name'), minWidth: 210 },
    { colKey: 'group', title: t('accounts.group'), width: 110, ellipsis: true },
    { colKey: 'state', title: t('accounts.state'), width: 190 },
    { colKey: 'schedule', title: t('accounts.schedule'), width: 145 },
    { colKey: 'concurrency', title: t('accounts.concurrency'), width: 110, align: 'right' },
    { colKey: 'today', title: t('accounts.today'), width: 175, align: 'right' },
    { colKey: 'enabled', title: t('common.enabled'), width: 80, align: 'center' },
    { colKey: 'op', title: t('common.actions'), width: 170, fixed: 'right' },
  ];
}
