/**
 * Money, token, duration and time formatting. Money arrives as integer micro-USD
 * (`cost_micro_usd`) where the API has it and is formatted from that integer, never from a
 * float sum; amounts under a cent keep enough digits to stay non-zero. Times are RFC 3339 UTC
 * from the API and are shown in the browser's time zone.
 */

const MICRO = 1_000_000;

/** How many decimals an amount of `micro` micro-USD is shown with. */
export function moneyDecimals(micro: number): number {
  const abs = Math.abs(micro);
  if (abs === 0 || abs >= MICRO) return 2; // a dollar or more: cents
  if (abs >= 10_000) return 4; // at least one cent: 0.0123
  return 6; // under a cent: every micro-dollar counts
}

/** `micro` micro-USD as `$1,234.57`, `$0.0123` or `$0.000042`, rounded half away from zero. */
export function formatMicroUsd(micro: number | null | undefined, locale = 'en-US'): string {
  if (micro === null || micro === undefined || !Number.isFinite(micro)) return '—';
  const m = Math.round(micro);
  const decimals = moneyDecimals(m);
  const step = 10 ** (6 - decimals);
  const rounded = Math.sign(m) * Math.round(Math.abs(m) / step) * step;
  const sign = rounded < 0 ? '-' : '';
  const abs = Math.abs(rounded);
  const whole = Math.floor(abs / MICRO);
  const frac = String(abs % MICRO).padStart(6, '0').slice(0, decimals);
  const wholeText = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(whole);
  return `${sign}$${wholeText}.${frac}`;
}

/** A USD amount (for the routes that answer USD only) formatted like {@link formatMicroUsd}. */
export function formatUsd(usd: number | null | undefined, locale = 'en-US'): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '—';
  return formatMicroUsd(Math.round(usd * MICRO), locale);
}

/** A limit in USD, where 0 means none. */
export function formatLimitUsd(usd: number | null | undefined, none: string, locale = 'en-US'): string {
  if (!usd) return none;
  return formatUsd(usd, locale);
}

/** A count with grouping: `1,234,567`. */
export function formatNumber(n: number | null | undefined, locale = 'en-US'): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return new Intl.NumberFormat(locale).format(n);
}

/** A token count shortened for cards and axes: `950`, `12.3K`, `4.56M`, `1.2B`. */
export function formatCompact(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const v = n / size;
      const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
      return `${Number(v.toFixed(digits))}${unit}`;
    }
  }
  return String(n);
}

/** Milliseconds as `850 ms`, `1.23 s` or `2 min 5 s`. */
export function formatDurationMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${min} min ${s} s`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * An RFC 3339 time in the browser's zone (or `timeZone`, for tests) as
 * `YYYY-MM-DD HH:mm:ss`.
 */
export function formatDateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const get = (t: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

/** The browser's time zone name (`Europe/Berlin`). */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** A change from `before` to `now` in percent (null when there is nothing to compare with). */
export function percentChange(now: number, before: number): number | null {
  if (!before) return null;
  return ((now - before) / before) * 100;
}

/** `YYYY-MM-DD` of a date in the browser's zone. */
export function dayText(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
