/** Whether the viewport is phone-sized (under 768 px), kept current on resize. */
import { computed, onBeforeUnmount, ref } from 'vue';

export function useIsMobile() {
  const query = window.matchMedia('(max-width: 768px)');
  const isMobile = ref(query.matches);
  const update = (e: MediaQueryListEvent) => {
    isMobile.value = e.matches;
  };
  query.addEventListener('change', update);
  onBeforeUnmount(() => query.removeEventListener('change', update));
  return isMobile;
}

/** Dialog width and label placement that fit the viewport (labels on top on phones). */
export function useDialogLayout(width = 640) {
  const isMobile = useIsMobile();
  return {
    isMobile,
    dialogWidth: `min(${width}px, calc(100vw - 24px))`,
    labelAlign: computed(() => (isMobile.value ? 'top' : 'right') as 'top' | 'right'),
  };
}

/** Table columns without fixed sides on phones (a fixed column would cover the others). */
export function responsiveColumns<C extends { fixed?: string }>(cols: C[], mobile: boolean): C[] {
  if (!mobile) return cols;
  return cols.map((c) => {
    const copy = { ...c };
    delete copy.fixed;
    return copy;
  });
}
