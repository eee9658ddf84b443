/** Shapes every resource shares: the list contract and paging parameters. */

/** `{items,total,page,page_size}`: one page of a list. */
export interface Paged<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

/** `?page=&page_size=` (1-based; the API caps page_size at 100). */
export interface PageQuery {
  page?: number;
  page_size?: number;
}

/** The largest page the API serves. */
export const MAX_PAGE_SIZE = 100;
