/** The users page's columns and form rules. */
import type { FormRule } from 'tdesign-vue-next';

import { t } from '@/locales';
import { MIN_PASSWORD } from '@/pages/login/data';

export function columns() {
  return [
    { colKey: 'username', title: t('users.username'), minWidth: 130 },
    { colKey: 'email', title: t('users.email'), minWidth: 140, ellipsis: true },
    { colKey: 'role', title: t('users.role'), width: 100 },
    { colKey: 'status', title: t('users.status'), width: 120 },
    { colKey: 'last_login_at', title: t('users.lastLogin'), width: 165 },
    { colKey: 'created_at', title: t('common.createdAt'), width: 165 },
    { colKey: 'enabled', title: t('common.enabled'), width: 80, align: 'center' as const },
    { colKey: 'op', title: t('common.actions'), width: 190, fixed: 'right' as const },
  ];
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const userRules = (creating: boolean): Record<string, FormRule[]> => ({
  username: creating
    ? [
        { required: true, message: t('users.usernameRequired') },
        { pattern: /^[A-Za-z0-9_.@-]{3,64}$/, message: t('users.usernameInvalid') },
      ]
    : [],
  password: creating
    ? [
        { required: true, message: t('password.newRequired') },
        { min: MIN_PASSWORD, message: t('password.tooShort', { n: MIN_PASSWORD }) },
      ]
    : [],
  email: [{ validator: (v: string) => !v || EMAIL_RE.test(v), message: t('users.emailInvalid') }],
});

export const resetRules = (): Record<string, FormRule[]> => ({
  password: [
    { required: true, message: t('password.newRequired') },
    { min: MIN_PASSWORD, message: t('password.tooShort', { n: MIN_PASSWORD }) },
  ],
});
