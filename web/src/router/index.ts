/**
 * The router and its guard: public pages pass; every other page needs a session (else the
 * sign-in page, with the wanted address kept); a pending forced password change shows only
 * the password form; a `user` opening an administrator's page lands on "no permission".
 */
import { createRouter, createWebHistory } from 'vue-router';

import { useUserStore } from '@/store';

import { routes } from './modules/routes';

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  const store = useUserStore();
  const user = await store.ensureLoaded();
  if (!user) return { name: 'login', query: to.fullPath !== '/dashboard' && to.fullPath !== '/' ? { redirect: to.fullPath } : {} };
  if (user.must_change_password) return { name: 'login', query: { change: '1' } };
  if (to.meta.admin && user.role !== 'admin') return { name: 'forbidden', query: { from: to.fullPath } };
  return true;
});
