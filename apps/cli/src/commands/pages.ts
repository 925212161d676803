import type { Command } from 'commander';
import type { ApiClient, Query } from '../connection/api-client';
import type { Io } from '../io/io';
import { print } from '../io/output';
import { withContext } from './context';
import { intArg } from './option-parsers';

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

export interface PageOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

export const pagedOptions = (cmd: Command, maxPage = 200): Command =>
  cmd
    .option('--limit <n>', 'page size', intArg(1, maxPage))
    .option('--cursor <cursor>', 'the next page, from a previous listing')
    .option('--all', 'every page');

// A listing command: its filters as the query, one page or --all, the API's JSON or a table with a "more" hint.
export const listAction = <T, O extends PageOptions = PageOptions>(
  io: Io,
  spec: {
    service: 'key-service' | 'usage-service';
    path: string;
    pageSize: number;
    query?: (o: O) => Query;
    render: (rows: T[], o: O) => string;
  },
) =>
  withContext<O>(io, async (ctx, _args, o) => {
    const client = spec.service === 'usage-service' ? ctx.usageService() : ctx.keyService();
    const query = { ...spec.query?.(o), limit: o.limit, cursor: o.cursor };
    const page = await fetchPages<T>(client, spec.path, query, {
      all: Boolean(o.all),
      pageSize: spec.pageSize,
    });
    print(ctx.io, ctx.json, page, () => spec.render(page.data, o) + moreHint(page));
  });
