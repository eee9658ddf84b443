/** `/auth/*` and `/user/*`: signing in and out, the signed-in user and their password. */
import { request } from '@/utils/request';

/** A console user (`UserView`). */
export interface User {
  id: number;
  username: string;
  email: string | null;
  role: 'admin' | 'user' | string;
  enabled: boolean;
  must_change_password: boolean;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

/** `POST /auth/login` and `PUT /user/password` answer. */
export interface TokenResponse {
  token: string;
  expires_at: string;
  user: User;
}

/** Signs in; the API also sets the HttpOnly session cookie. A wrong password is a 401. */
export function login(username: string, password: string): Promise<TokenResponse> {
  return request.post('/auth/login', { username, password }, { noAuthRedirect: true, silent: true });
}

/** Clears the session cookie of this browser. */
export function logout(): Promise<void> {
  return request.post('/auth/logout', undefined, { noAuthRedirect: true, silent: true });
}

/** Revokes every token issued so far (every browser and script is signed out). */
export function logoutAll(): Promise<void> {
  return request.post('/auth/logout-all');
}

/** The signed-in user. */
export function getProfile(): Promise<User> {
  return request.get('/user/profile');
}

/** Changes the e-mail (`null` or `""` clears it). */
export function updateProfile(body: { email: string | null }): Promise<User> {
  return request.put('/user/profile', body);
}

/** Changes the password; answers a fresh token (and cookie), earlier tokens are revoked. */
export function changePassword(oldPassword: string, newPassword: string): Promise<TokenResponse> {
  return request.put(
    '/user/password',
    { old_password: oldPassword, new_password: newPassword },
    { silent: true },
  );
}
