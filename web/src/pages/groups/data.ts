/** The groups page's columns and form rules. */
import type { FormRule } from 'tdesign-vue-next';

import { t } from '@/locales';

export function columns() {
  return [
    { colKey: 'name', title: t('groups.name'), minWidth: 180 },
    { colKey: 'description', title: t('groups.description'), minWidth: 200, ellipsis: true },
    { colKey: 'owner', title: t('groups.owner'), width: 140 },
    { colKey: 'created_at', title: t('common.createdAt'), width: 180 },
    { colKey: 'op', title: t('common.actions'), width: 200, fixed: 'right' as const },
  ];
}

export const memberColumns = () => [
  { colKey: 'username', title: t('users.username') },
  { colKey: 'role', title: t('users.role'), width: 110 },
  { colKey: 'created_at', title: t('groups.joinedAt'), width: 180 },
  { colKey: 'op', title: t('common.actions'), width: 90 },
];

export const groupRules = (): Record<string, FormRule[]> => ({
  name: [
    { required: true, message: t('groups.nameRequired') },
    { max: 64, message: t('common.tooLong', { n: 64 }) },
  ],
});
