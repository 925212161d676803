import type { ApiClient, Query } from '../connection/api-client';

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

// One page (with --limit/--cursor), or every page (--all) folded into one answer of the same shape.
export const fetchPages = async <T>(
  client: ApiClient,
  path: string,
  query: Query,
  { all, pageSize = 200 }: { all: boolean; pageSize?: number },
): Promise<Page<T>> => {
  if (!all) return (await client.request<Page<T>>('GET', path, { query })).body;
  const data: T[] = [];
  let cursor: string | null | undefined = query.cursor as string | undefined;
  do {
    const page: Page<T> = (
      await client.request<Page<T>>('GET', path, {
        query: { ...query, limit: pageSize, cursor: cursor ?? undefined },
      })
    ).body;
    data.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return { data, nextCursor: null };
};

// Shown under a table when there is more: the human listing must not look complete when it is not.
export const moreHint = (page: { nextCursor: string | null }): string =>
  page.nextCursor ? `(more: --cursor ${page.nextCursor}, or --all)\n` : '';
