import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import type { Io } from '../io/io';
import { print, renderTable, type Column } from '../io/output';
import { checkWritable } from '../io/pak-file';
import { withContext } from './context';
import { renderKey, type KeyResource } from './key-view';
import { oneOf, pastArg } from './option-parsers';

interface Totals {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: string;
}

type Bucket = Totals & { start: string };

interface UsageRequest {
  requestId: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: string;
  keyId: string | null;
  time: string;
  route: string | null;
  status: number;
  errorCode: string | null;
  clientIp: string | null;
  keyAsOf: string | null;
}
type SummaryRow = Totals & Record<string, unknown>;

interface RangeOptions {
  from?: string;
  to?: string;
  granularity?: string;
}

const GROUP_BY = ['key', 'owner', 'route', 'model', 'provider', 'group'] as const;
const FIELD: Record<(typeof GROUP_BY)[number], string> = {
  key: 'keyId',
  owner: 'ownerId',
  route: 'route',
  model: 'model',
  provider: 'provider',
  group: 'groupId',
};

const totalColumns = <T extends Totals>(): Column<T>[] => [
  ['REQUESTS', (r) => r.requests],
  ['ERRORS', (r) => r.errors],
  ['PROMPT TOKENS', (r) => r.promptTokens],
  ['COMPLETION TOKENS', (r) => r.completionTokens],
  ['COST USD', (r) => r.costUsd],
];

const rangeOptions = (cmd: Command, granular: boolean): Command => {
  cmd
    .option(
      '--from <when>',
      'start: YYYY-MM-DD, ISO date-time or Nd (days ago); default 30 days ago',
      pastArg(),
    )
    .option('--to <when>', 'end (exclusive); default now', pastArg());
  return granular
    ? cmd.option('--granularity <g>', 'minute|hour|day (default hour)', oneOf(['minute', 'hour', 'day']))
    : cmd;
};

export const registerUsage = (program: Command, io: Io): void => {
  const usage = program.command('usage').description('usage and cost from the ledger (usage-service)');

  rangeOptions(
    usage.command('key').description('one key over time').argument('<id>', 'key id (key_…)'),
    true,
  ).action(
    withContext<RangeOptions>(io, async (ctx, [id], o) => {
      const res = await ctx
        .usageService()
        .request<{ data: Bucket[] }>('GET', `/v1/usage/keys/${encodeURIComponent(id)}`, {
          query: { from: o.from, to: o.to, granularity: o.granularity },
        });
      print(ctx.io, ctx.json, res.body, () =>
        renderTable<Bucket>([['START', (b) => b.start], ...totalColumns<Bucket>()], res.body.data),
      );
    }),
  );

  rangeOptions(
    usage
      .command('summary')
      .description('totals grouped by key, owner, route, model, provider or group, most expensive first')
      .option('--group-by <dimension>', GROUP_BY.join('|'), oneOf(GROUP_BY), 'key'),
    false,
  ).action(
    withContext<RangeOptions & { groupBy: (typeof GROUP_BY)[number] }>(io, async (ctx, _a, o) => {
      const res = await ctx
        .usageService()
        .request<{ data: SummaryRow[]; from: string; to: string }>('GET', '/v1/usage/summary', {
          query: { from: o.from, to: o.to, groupBy: o.groupBy },
        });
      const field = FIELD[o.groupBy];
      const named = o.groupBy === 'key' || o.groupBy === 'group';
      print(
        ctx.io,
        ctx.json,
        res.body,
        () =>
          `${res.body.from} → ${res.body.to}\n` +
          renderTable<SummaryRow>(
            [
              [o.groupBy.toUpperCase(), (r) => r[field]],
              ...(named ? ([['NAME', (r) => r.name]] as Column<SummaryRow>[]) : []),
              ...totalColumns<SummaryRow>(),
            ],
            res.body.data,
          ),
      );
    }),
  );

  usage
    .command('request')
    .description('one request by its x-request-id, and the key as it was when the request arrived')
    .argument('<requestId>', 'request id (req_…), as the gateway answered it in x-request-id')
    .action(
      withContext(io, async (ctx, [requestId]) => {
        const row = (
          await ctx
            .usageService()
            .request<UsageRequest>('GET', `/v1/usage/requests/${encodeURIComponent(requestId)}`)
        ).body;
        // The ledger links the request to its key's state then: the key-service folds it from the key's events.
        const link = row.keyAsOf ? new URL(row.keyAsOf, 'http://keygate') : null;
        const key = link
          ? (
              await ctx.keyService().request<KeyResource>('GET', link.pathname, {
                query: { at: link.searchParams.get('at') ?? undefined },
              })
            ).body
          : null;
        print(ctx.io, ctx.json, { request: row, keyAsOf: key }, () =>
          [
            renderTable<UsageRequest>(
              [
                ['REQUEST', (r) => r.requestId],
                ['TIME', (r) => r.time],
                ['KEY', (r) => r.keyId],
                ['ROUTE', (r) => r.route],
                ['STATUS', (r) => r.status],
                ['ERROR', (r) => r.errorCode],
                ['TOKENS', (r) => r.promptTokens + r.completionTokens],
                ['COST USD', (r) => r.costUsd],
                ['CLIENT IP', (r) => r.clientIp],
              ],
              [row],
            ),
            key
              ? `\nThe key when the request arrived:\n${renderKey(key)}`
              : '\nNo key of ours was presented.\n',
          ].join(''),
        );
      }),
    );

  rangeOptions(
    usage
      .command('export')
      .description('the aggregates as CSV, streamed (to stdout, or --output FILE)')
      .option('--key <id>', 'one key only')
      .option('--output <file>', 'write to this file instead of stdout'),
    true,
  ).action(
    withContext<RangeOptions & { key?: string; output?: string }>(io, async (ctx, _a, o) => {
      const target = o.output ? checkWritable(o.output, { replace: true }) : undefined;
      const res = await ctx.usageService().stream('/v1/usage/export.csv', {
        query: { from: o.from, to: o.to, granularity: o.granularity, keyId: o.key },
        headers: { accept: 'text/csv' },
      });
      const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      if (target) {
        await pipeline(body, createWriteStream(target));
        ctx.io.err(`wrote ${target}\n`);
        return;
      }
      const decoder = new TextDecoder();
      for await (const chunk of body) ctx.io.out(decoder.decode(chunk as Uint8Array, { stream: true }));
      ctx.io.out(decoder.decode());
    }),
  );
};
