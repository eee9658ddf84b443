/** `/groups` and `/groups/{id}/members`: pools of accounts and who may create keys in them. */
import { request } from '@/utils/request';

import type { PageQuery, Paged } from './types';

/** A group (`GroupView`). */
export interface Group {
  id: number;
  name: string;
  description: string;
  owner_id: number | null;
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

/** A member of a group (`MemberView`). */
export interface Member {
  group_id: number;
  user_id: number;
  username: string;
  role: string;
  created_at: string;
}

export interface NewGroup {
  name: string;
  description?: string;
  owner_id?: number | null;
}

export interface GroupUpdate {
  name?: string;
  description?: string;
  owner_id?: number | null;
}

export const listGroups = (q: PageQuery = {}): Promise<Paged<Group>> => request.get('/groups', q);
export const getGroup = (id: number): Promise<Group> => request.get(`/groups/${id}`);
export const createGroup = (body: NewGroup): Promise<Group> => request.post('/groups', body);
export const updateGroup = (id: number, body: GroupUpdate): Promise<Group> =>
  request.put(`/groups/${id}`, body);
export const deleteGroup = (id: number): Promise<void> => request.del(`/groups/${id}`);

export const listMembers = (id: number, q: PageQuery = {}): Promise<Paged<Member>> =>
  request.get(`/groups/${id}/members`, q);
/** Adds a user by id or login name. */
export const addMember = (id: number, who: { user_id?: number; username?: string }): Promise<Member> =>
  request.post(`/groups/${id}/members`, who);
export const removeMember = (id: number, userId: number): Promise<void> =>
  request.del(`/groups/${id}/members/${userId}`);
