/** Pinia, and the stores that hold cross-page state: the signed-in user and the settings. */
import { createPinia } from 'pinia';

export const pinia = createPinia();

export { useSettingsStore } from './modules/settings';
export { useUserStore } from './modules/user';
