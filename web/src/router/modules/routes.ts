/**
 * Every route of the console. `meta.title` is an i18n key, `meta.icon` a TDesign icon name,
 * `meta.admin` limits a page to administrators, `meta.public` opens it without signing in,
 * `meta.menu` puts it in the side menu.
 */
import type { RouteRecordRaw } from 'vue-router';

import BasicLayout from '@/layouts/BasicLayout.vue';

declare module 'vue-router' {
  interface RouteMeta {
    title?: string;
    icon?: string;
    admin?: boolean;
    public?: boolean;
    menu?: boolean;
  }
}

/** Pages inside the console frame, in menu order. */
export const consoleRoutes: RouteRecordRaw[] = [
  { path: 'dashboard', name: 'dashboard', component: () => import('@/pages/dashboard/index.vue'), meta: { title: 'menu.dashboard', icon: 'dashboard', menu: true } },
  { path: 'accounts', name: 'accounts', component: () => import('@/pages/accounts/index.vue'), meta: { title: 'menu.accounts', icon: 'server', admin: true, menu: true } },
  { path: 'groups', name: 'groups', component: () => import('@/pages/groups/index.vue'), meta: { title: 'menu.groups', icon: 'usergroup', menu: true } },
  { path: 'api-keys', name: 'api-keys', component: () => import('@/pages/api-keys/index.vue'), meta: { title: 'menu.apiKeys', icon: 'key', menu: true } },
  { path: 'logs', name: 'logs', component: () => import('@/pages/logs/index.vue'), meta: { title: 'menu.logs', icon: 'root-list', menu: true } },
  { path: 'stats', name: 'stats', component: () => import('@/pages/stats/index.vue'), meta: { title: 'menu.stats', icon: 'chart-bar', menu: true } },
  { path: 'users', name: 'users', component: () => import('@/pages/users/index.vue'), meta: { title: 'menu.users', icon: 'user-setting', admin: true, menu: true } },
  { path: 'profile', name: 'profile', component: () => import('@/pages/profile/index.vue'), meta: { title: 'menu.profile', icon: 'user-circle', menu: true } },
  { path: 'help', name: 'help', component: () => import('@/pages/help/index.vue'), meta: { title: 'menu.help', icon: 'help-circle', menu: true } },
  { path: '403', name: 'forbidden', component: () => import('@/pages/result/Forbidden.vue'), meta: { title: 'result.forbiddenTitle' } },
];

export const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/pages/login/index.vue'), meta: { public: true, title: 'login.title' } },
  { path: '/key-usage', name: 'key-usage', component: () => import('@/pages/key-usage/index.vue'), meta: { public: true, title: 'keyUsage.title' } },
  { path: '/', component: BasicLayout, redirect: '/dashboard', children: consoleRoutes },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/pages/result/NotFound.vue'), meta: { public: true, title: 'result.notFoundTitle' } },
];
