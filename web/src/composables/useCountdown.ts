/** A ticking countdown to a moment: the seconds left, updated every second until zero. */
import { computed, onBeforeUnmount, ref, type Ref } from 'vue';

import { formatCountdown, secondsUntil } from '@/utils/countdown';

/** One shared clock per component, ticking while something counts down. */
export function useNow(intervalMs = 1000): Ref<number> {
  const now = ref(Date.now());
  const timer = window.setInterval(() => {
    now.value = Date.now();
  }, intervalMs);
  onBeforeUnmount(() => window.clearInterval(timer));
  return now;
}

/** Seconds until `target` and its text; `done` turns true once it has passed. */
export function useCountdown(target: Ref<string | number | null | undefined>) {
  const now = useNow();
  const seconds = computed(() => secondsUntil(target.value, now.value));
  const text = computed(() => formatCountdown(seconds.value));
  const done = computed(() => seconds.value === 0);
  return { seconds, text, done };
}
