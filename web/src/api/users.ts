/** `/admin/users`: user management (administrators). */
import { request } from '@/utils/request';

import type { User } from './auth';
import type { PageQuery, Paged } from './types';

export type { User };

/** `POST /admin/users` body: the password must be changed by the user at the next sign-in. */
export interface NewUser {
  username: string;
  password: string;
  email?: string | null;
  role?: 'admin' | 'user';
}

/** `PUT /admin/users/{id}` body (absent fields keep their value). */
export interface UserUpdate {
  email?: string | null;
  role?: 'admin' | 'user';
  enabled?: boolean;
}

export const listUsers = (q: PageQuery = {}): Promise<Paged<User>> => request.get('/admin/users', q);
export const createUser = (body: NewUser): Promise<User> => request.post('/admin/users', body);
export const updateUser = (id: number, body: UserUpdate): Promise<User> =>
  request.put(`/admin/users/${id}`, body);
export const deleteUser = (id: number): Promise<void> => request.del(`/admin/users/${id}`);
/** Sets a new password that the user must change at the next sign-in. */
export const resetUserPassword = (id: number, password: string): Promise<User> =>
  request.post(`/admin/users/${id}/reset-password`, { password });
