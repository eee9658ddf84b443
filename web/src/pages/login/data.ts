/** Validation rules of the sign-in and password forms. */
import type { FormRule } from 'tdesign-vue-next';

import { t } from '@/locales';

/** The API's minimum password length (`check_new_password`). */
export const MIN_PASSWORD = 8;

export const loginRules = (): Record<string, FormRule[]> => ({
  username: [{ required: true, message: t('login.usernameRequired') }],
  password: [{ required: true, message: t('login.passwordRequired') }],
});

export const passwordRules = (newPassword: () => string): Record<string, FormRule[]> => ({
  old_password: [{ required: true, message: t('password.oldRequired') }],
  new_password: [
    { required: true, message: t('password.newRequired') },
    { min: MIN_PASSWORD, message: t('password.tooShort', { n: MIN_PASSWORD }) },
  ],
  confirm: [
    { required: true, message: t('password.confirmRequired') },
    { validator: (v: string) => v === newPassword(), message: t('password.mismatch') },
  ],
});
