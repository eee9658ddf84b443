/**
 * The state of a paged list: items, total, page, page size, loading, and the error of the
 * last load (shown above the table with a retry). `load` never throws.
 */
import { reactive, ref, shallowRef } from 'vue';

import type { PageQuery, Paged } from '@/api/types';
import { toApiError } from '@/utils/request';

export function useList<T, Q extends object = object>(fetch: (q: Q & PageQuery) => Promise<Paged<T>>, pageSize = 20) {
  const items = shallowRef<T[]>([]);
  const loading = ref(false);
  const error = ref('');
  const pagination = reactive({ current: 1, pageSize, total: 0 });
  let filters = {} as Q;
  let seq = 0;

  async function load(): Promise<void> {
    const mine = ++seq;
    loading.value = true;
    error.value = '';
    try {
      const page = await fetch({ ...filters, page: pagination.current, page_size: pagination.pageSize });
      if (mine !== seq) return;
      items.value = page.items;
      pagination.total = page.total;
    } catch (e) {
      if (mine !== seq) return;
      error.value = toApiError(e).message;
      items.value = [];
    } finally {
      if (mine === seq) loading.value = false;
    }
  }

  /** New filters: back to page 1. */
  function search(q: Q): Promise<void> {
    filters = q;
    pagination.current = 1;
    return load();
  }

  function onPageChange(info: { current: number; pageSize: number }): Promise<void> {
    if (info.pageSize !== pagination.pageSize) pagination.current = 1;
    else pagination.current = info.current;
    pagination.pageSize = info.pageSize;
    return load();
  }

  return { items, loading, error, pagination, load, search, onPageChange };
}
