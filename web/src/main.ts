/** Starts the console: Pinia, i18n, TDesign, the router, and the request client's hooks. */
import 'tdesign-vue-next/es/style/index.css';
import './styles/global.css';

import TDesign, { MessagePlugin } from 'tdesign-vue-next';
import { createApp } from 'vue';

import App from './App.vue';
import AppIcon from './components/AppIcon.vue';
import { i18n } from './locales';
import { router } from './router';
import { pinia, useUserStore } from './store';
import { request } from './utils/request';

const app = createApp(App);
app.use(pinia);
app.use(i18n);
app.use(TDesign);
app.component('AppIcon', AppIcon);
app.use(router);

request.setHooks({
  notify: (message) => {
    void MessagePlugin.error({ content: message, duration: 4000 });
  },
  onUnauthorized: () => {
    useUserStore().clear();
    const current = router.currentRoute.value;
    if (!current.meta.public) {
      void router.replace({ name: 'login', query: { redirect: current.fullPath } });
    }
  },
  onPasswordChangeRequired: () => {
    void router.replace({ name: 'login', query: { change: '1' } });
  },
});

app.mount('#app');
