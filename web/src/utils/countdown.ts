/**
 * Countdowns (an account's cooldown, a key's daily reset): the seconds left until a moment,
 * and their text. Pure; the ticking lives in `composables/useCountdown.ts`.
 */

/** Whole seconds from `nowMs` until `target` (RFC 3339 or epoch ms); 0 once it has passed. */
export function secondsUntil(target: string | number | null | undefined, nowMs: number): number {
  if (target === null || target === undefined || target === '') return 0;
  const t = typeof target === 'number' ? target : Date.parse(target);
  if (!Number.isFinite(t)) return 0;
  return Math.max(0, Math.ceil((t - nowMs) / 1000));
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Seconds as `05:07`, `1:02:03`, or `2d 03:04:05`. */
export function formatCountdown(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (days > 0) return `${days}d ${pad(h)}:${pad(m)}:${pad(sec)}`;
  if (h > 0) return `${h}:${pad(m)}:${pad(sec)}`;
  return `${pad(m)}:${pad(sec)}`;
}
