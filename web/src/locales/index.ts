/**
 * vue-i18n with the console's two languages, zh-CN (default) and en-US, and TDesign's own
 * component texts for each. `en-US.ts` is the reference: `zh-CN.ts` must have the same keys
 * (a unit test checks it, and every `t('…')` key used in the sources).
 */
import enConfig from 'tdesign-vue-next/es/locale/en_US';
import zhConfig from 'tdesign-vue-next/es/locale/zh_CN';
import { createI18n } from 'vue-i18n';

import enUS from './en-US';
import zhCN from './zh-CN';

export const LOCALES = ['zh-CN', 'en-US'] as const;
export type Locale = (typeof LOCALES)[number];

export const isLocale = (v: string): v is Locale => (LOCALES as readonly string[]).includes(v);

/** The language names, each in its own language. */
export const LOCALE_NAMES: Record<Locale, string> = { 'zh-CN': '简体中文', 'en-US': 'English' };

export const messages = { 'zh-CN': zhCN, 'en-US': enUS };

/** TDesign's component texts (date pickers, pagination, dialogs) per language. */
export const tdesignLocales = { 'zh-CN': zhConfig, 'en-US': enConfig };

export const i18n = createI18n({
  legacy: false,
  locale: 'zh-CN',
  fallbackLocale: 'en-US',
  messages,
  missingWarn: false,
  fallbackWarn: false,
});

/** Translates outside components (toasts from plain modules). */
export const t = (key: string, named?: Record<string, unknown>): string =>
  named ? i18n.global.t(key, named) : i18n.global.t(key);
