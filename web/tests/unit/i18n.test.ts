import { describe, expect, it } from 'vitest';

import { i18n, LOCALES, messages } from '@/locales';
import { MONEY_LIMITS, RATE_LIMITS } from '@/pages/api-keys/data';
import { OUTCOMES } from '@/pages/logs/data';
import { LIMIT_WINDOWS } from '@/utils/limits';

type Tree = { [k: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

const en = flatten(messages['en-US'] as unknown as Tree);
const zh = flatten(messages['zh-CN'] as unknown as Tree);

/** Every key the sources name literally: `t('a.b')`, and route titles `title: 'a.b'`. */
function usedKeys(): Set<string> {
  const sources = import.meta.glob('/src/**/*.{ts,vue}', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
  const keys = new Set<string>();
  for (const [file, text] of Object.entries(sources)) {
    if (file.includes('/locales/')) continue;
    for (const m of text.matchAll(/\bt\(\s*['`]([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)+)['`]/g)) keys.add(m[1] as string);
    for (const m of text.matchAll(/\btitle: '([a-z][A-Za-z]*\.[A-Za-z0-9_]+)'/g)) keys.add(m[1] as string);
  }
  return keys;
}

/** Keys built at run time from a fixed list of values. */
const dynamicKeys = [
  ...['active', 'disabled', 'expired'].map((s) => `keys.status_${s}`),
  ...OUTCOMES.map((o) => `logs.outcome_${o}`),
  ...['light', 'dark', 'auto'].map((m) => `theme.${m}`),
  ...[...MONEY_LIMITS, ...RATE_LIMITS].flatMap((f) => [`keys.limit_${f}`, `keys.help_${f}`]),
  ...LIMIT_WINDOWS.flatMap((w) => [`limits.window_${w}`, `limits.hint_${w}`]),
];

describe('the translations', () => {
  it('have the same keys in zh-CN and en-US', () => {
    expect([...zh.keys()].filter((k) => !en.has(k))).toEqual([]);
    expect([...en.keys()].filter((k) => !zh.has(k))).toEqual([]);
  });

  it('have no empty text', () => {
    for (const map of [en, zh]) expect([...map].filter(([, v]) => !v.trim()).map(([k]) => k)).toEqual([]);
  });

  it('name the same placeholders in both languages', () => {
    const names = (v: string) => [...v.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect([...en].filter(([k, v]) => JSON.stringify(names(v)) !== JSON.stringify(names(zh.get(k) ?? ''))).map(([k]) => k)).toEqual([]);
  });

  it('cover every key the sources use', () => {
    const used = usedKeys();
    expect(used.size).toBeGreaterThan(200);
    expect([...used, ...dynamicKeys].filter((k) => !en.has(k))).toEqual([]);
  });

  it('compile in both languages', () => {
    for (const locale of LOCALES) {
      i18n.global.locale.value = locale;
      for (const key of en.keys()) {
        const out = i18n.global.t(key, { n: 1, name: 'x', zone: 'UTC', user: 'u', group: 'g', hint: 'h', from: 'a', to: 'b', total: 1, requests: 1, tokens: 1, cost: '$1', list: 'l', cooling: 0, error: 0, disabled: 0, input: 1, output: 1, read: 1, write: 1 });
        expect(out, `${locale} ${key}`).not.toBe(key);
        expect(out, `${locale} ${key}`).not.toMatch(/\{\w+\}/);
      }
    }
    i18n.global.locale.value = 'zh-CN';
  });
});
