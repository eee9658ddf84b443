/**
 * Names for ids shown in tables (groups, users, keys, accounts): each list is read once per
 * page (up to the API's largest page) and turned into an id → name map.
 */
import { computed, shallowRef } from 'vue';

import { listAccounts, type Account } from '@/api/accounts';
import { listKeys, type ApiKey } from '@/api/apiKeys';
import { listGroups, type Group } from '@/api/groups';
import { MAX_PAGE_SIZE } from '@/api/types';
import { listUsers, type User } from '@/api/users';

function lookup<T extends { id: number }>(fetch: () => Promise<{ items: T[] }>, name: (x: T) => string) {
  const items = shallowRef<T[]>([]);
  const byId = computed(() => new Map(items.value.map((x) => [x.id, x])));
  async function load(): Promise<void> {
    try {
      items.value = (await fetch()).items;
    } catch {
      items.value = [];
    }
  }
  const nameOf = (id: number | null | undefined): string => {
    if (id === null || id === undefined) return '—';
    const x = byId.value.get(id);
    return x ? name(x) : `#${id}`;
  };
  const options = computed(() => items.value.map((x) => ({ label: name(x), value: x.id })));
  return { items, byId, load, nameOf, options };
}

export const useGroupLookup = () => lookup<Group>(() => listGroups({ page_size: MAX_PAGE_SIZE }), (g) => g.name);
export const useUserLookup = () => lookup<User>(() => listUsers({ page_size: MAX_PAGE_SIZE }), (u) => u.username);
export const useKeyLookup = () => lookup<ApiKey>(() => listKeys({ page_size: MAX_PAGE_SIZE }), (k) => k.name);
export const useAccountLookup = () => lookup<Account>(() => listAccounts({ page_size: MAX_PAGE_SIZE }), (a) => a.name);
