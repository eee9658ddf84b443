/**
 * Display settings kept in `localStorage`: the theme mode (light, dark, or auto = the
 * system's), the language, and whether the side menu is collapsed. The theme is applied as
 * TDesign's `theme-mode` attribute on `<html>`.
 */
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';

import { i18n, isLocale, type Locale } from '@/locales';

export type ThemeMode = 'light' | 'dark' | 'auto';

const THEME_KEY = 'relay.theme';
const LOCALE_KEY = 'relay.locale';
const COLLAPSED_KEY = 'relay.menuCollapsed';

function read(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // storage unavailable (private mode): the setting lasts for this page only
  }
}

const darkQuery = (): MediaQueryList | null =>
  typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;

export const useSettingsStore = defineStore('settings', () => {
  const stored = read(THEME_KEY);
  const themeMode = ref<ThemeMode>(stored === 'dark' || stored === 'light' || stored === 'auto' ? stored : 'auto');
  const storedLocale = read(LOCALE_KEY);
  const locale = ref<Locale>(storedLocale && isLocale(storedLocale) ? storedLocale : 'zh-CN');
  const menuCollapsed = ref(read(COLLAPSED_KEY) === '1');
  const systemDark = ref(darkQuery()?.matches ?? false);
  darkQuery()?.addEventListener('change', (e) => {
    systemDark.value = e.matches;
  });

  /** The mode in effect: `auto` resolved against the system. */
  const isDark = computed(() => themeMode.value === 'dark' || (themeMode.value === 'auto' && systemDark.value));

  function apply(): void {
    const html = document.documentElement;
    if (isDark.value) html.setAttribute('theme-mode', 'dark');
    else html.removeAttribute('theme-mode');
    html.style.colorScheme = isDark.value ? 'dark' : 'light';
    html.setAttribute('lang', locale.value);
    i18n.global.locale.value = locale.value;
  }

  watch([isDark, locale], apply, { immediate: true });

  function setTheme(mode: ThemeMode): void {
    themeMode.value = mode;
    write(THEME_KEY, mode);
  }

  function setLocale(l: Locale): void {
    locale.value = l;
    write(LOCALE_KEY, l);
  }

  function toggleMenu(): void {
    menuCollapsed.value = !menuCollapsed.value;
    write(COLLAPSED_KEY, menuCollapsed.value ? '1' : '0');
  }

  return { themeMode, locale, isDark, menuCollapsed, setTheme, setLocale, toggleMenu };
});
