/** A confirmation dialog as a promise: resolves true when the user confirms. */
import { DialogPlugin } from 'tdesign-vue-next';

import { t } from '@/locales';

export interface ConfirmOptions {
  title: string;
  body: string;
  confirm?: string;
  danger?: boolean;
}

export function confirmAction(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = DialogPlugin.confirm({
      header: o.title,
      body: o.body,
      theme: o.danger ? 'danger' : 'warning',
      confirmBtn: { content: o.confirm ?? t('common.confirm'), theme: o.danger ? 'danger' : 'primary' },
      cancelBtn: t('common.cancel'),
      onConfirm: () => {
        dialog.destroy();
        resolve(true);
      },
      onClose: () => {
        dialog.destroy();
        resolve(false);
      },
    });
  });
}
