/**
 * The signed-in user. The session itself is the API's HttpOnly cookie, which scripts cannot
 * read; what is kept in `localStorage` is only when that session expires, so that a browser
 * that was never signed in goes straight to the sign-in page without asking the API first.
 */
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

import * as auth from '@/api/auth';
import type { TokenResponse, User } from '@/api/auth';

const SESSION_KEY = 'relay.sessionExpiresAt';

function storedExpiry(): number {
  try {
    const v = window.localStorage.getItem(SESSION_KEY);
    return v ? Date.parse(v) : 0;
  } catch {
    return 0;
  }
}

function storeExpiry(expiresAt: string | null): void {
  try {
    if (expiresAt) window.localStorage.setItem(SESSION_KEY, expiresAt);
    else window.localStorage.removeItem(SESSION_KEY);
  } catch {
    // storage unavailable: the session check asks the API instead
  }
}

export const useUserStore = defineStore('user', () => {
  const user = ref<User | null>(null);
  const loaded = ref(false);

  const isAdmin = computed(() => user.value?.role === 'admin');
  const mustChangePassword = computed(() => user.value?.must_change_password === true);

  /** Whether a session may exist (one was opened in this browser and has not expired). */
  function maybeSignedIn(): boolean {
    return storedExpiry() > Date.now();
  }

  function accept(resp: TokenResponse): void {
    user.value = resp.user;
    loaded.value = true;
    storeExpiry(resp.expires_at);
  }

  /** Loads the user of the session, once; resolves to null when there is none. */
  async function ensureLoaded(): Promise<User | null> {
    if (loaded.value) return user.value;
    if (!maybeSignedIn()) {
      loaded.value = true;
      return null;
    }
    try {
      user.value = await auth.getProfile();
    } catch {
      user.value = null;
      storeExpiry(null);
    }
    loaded.value = true;
    return user.value;
  }

  async function login(username: string, password: string): Promise<User> {
    const resp = await auth.login(username, password);
    accept(resp);
    return resp.user;
  }

  async function changePassword(oldPassword: string, newPassword: string): Promise<User> {
    const resp = await auth.changePassword(oldPassword, newPassword);
    accept(resp);
    return resp.user;
  }

  /** Forgets the session here (after a 401 or a sign-out). */
  function clear(): void {
    user.value = null;
    loaded.value = true;
    storeExpiry(null);
  }

  async function logout(): Promise<void> {
    try {
      await auth.logout();
    } finally {
      clear();
    }
  }

  function setUser(u: User): void {
    user.value = u;
  }

  return { user, loaded, isAdmin, mustChangePassword, maybeSignedIn, ensureLoaded, login, changePassword, logout, clear, setUser };
});
