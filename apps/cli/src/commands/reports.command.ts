import type { Command } from 'commander';
import type { Io } from '../io/io';
import { print, renderTable } from '../io/output';
import { withContext } from './context';
import { renderAudit, type AuditEntry } from './key-view';
import { intArg, pastArg } from './option-parsers';
import { fetchPages, moreHint } from './pages';

interface Alert {
  id: string;
  keyId: string | null;
  subject: string;
  type: string;
  severity: string;
  message: string;
  raisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

interface HygieneRow {
  keyId: string;
  name: string;
  ownerId: string;
  environment: string;
  state: string;
  createdAt: string;
  rotatedAt: string | null;
  rotationPeriodDays: number | null;
  lastUsedAt: string | null;
  rotationDueAt?: string;
}

interface PageOptions {
  limit?: number;
  cursor?: string;
  all?: boolean;
}

const paged = (cmd: Command, max: number): Command =>
  cmd
    .option('--limit <n>', 'page size', intArg(1, max))
    .option('--cursor <cursor>', 'the next page, from a previous listing')
    .option('--all', 'every page');

const renderAlerts = (alerts: Alert[]): string =>
  renderTable<Alert>(
    [
      ['ID', (a) => a.id],
      ['RAISED', (a) => a.raisedAt],
      ['TYPE', (a) => a.type],
      ['SEVERITY', (a) => a.severity],
      ['KEY', (a) => a.keyId],
      ['ACK', (a) => (a.acknowledgedAt ? `${a.acknowledgedAt} by ${a.acknowledgedBy}` : null)],
      ['MESSAGE', (a) => a.message],
    ],
    alerts,
  );

const renderHygiene = (rows: HygieneRow[], stale: boolean): string =>
  renderTable<HygieneRow>(
    [
      ['KEY', (r) => r.keyId],
      ['NAME', (r) => r.name],
      ['OWNER', (r) => r.ownerId],
      ['ENV', (r) => r.environment],
      ['STATE', (r) => r.state],
      ['LAST USED', (r) => r.lastUsedAt ?? 'never'],
      ...(stale
        ? ([
            ['ROTATED', (r) => r.rotatedAt ?? r.createdAt],
            ['DUE', (r) => r.rotationDueAt],
          ] as [string, (r: HygieneRow) => unknown][])
        : ([['CREATED', (r) => r.createdAt]] as [string, (r: HygieneRow) => unknown][])),
    ],
    rows,
  );

export const registerReports = (program: Command, io: Io): void => {
  const alerts = program.command('alerts').description('budget, anomaly and key alerts (usage-service)');
  paged(
    alerts
      .command('list')
      .description('alerts, newest first')
      .option('--key <id>', 'for one key')
      .option('--type <type>', 'one alert type')
      .option('--since <when>', 'raised since: YYYY-MM-DD, ISO date-time or Nd (days ago)', pastArg()),
    500,
  ).action(
    withContext<PageOptions & { key?: string; type?: string; since?: string }>(io, async (ctx, _a, o) => {
      const query = { keyId: o.key, type: o.type, since: o.since, limit: o.limit, cursor: o.cursor };
      const page = await fetchPages<Alert>(ctx.usageService(), '/v1/alerts', query, {
        all: Boolean(o.all),
        pageSize: 500,
      });
      print(ctx.io, ctx.json, page, () => renderAlerts(page.data) + moreHint(page));
    }),
  );
  alerts
    .command('ack')
    .description('acknowledge an alert')
    .argument('<id>', 'alert id (alr_…)')
    .action(
      withContext(io, async (ctx, [id]) => {
        const res = await ctx
          .usageService()
          .request<Alert>('POST', `/v1/alerts/${encodeURIComponent(id)}/ack`);
        print(ctx.io, ctx.json, res.body, () => `acknowledged ${res.body.id}\n`);
      }),
    );

  paged(
    program
      .command('unused')
      .description('live keys without a request for N days (never-used keys count from their creation)')
      .requiredOption('--days <n>', 'days without a request', intArg(1, 3650)),
    1000,
  ).action(
    withContext<PageOptions & { days: number }>(io, async (ctx, _a, o) => {
      const query = { days: o.days, limit: o.limit, cursor: o.cursor };
      const page = await fetchPages<HygieneRow>(ctx.usageService(), '/v1/keys/unused', query, {
        all: Boolean(o.all),
        pageSize: 1000,
      });
      print(ctx.io, ctx.json, page, () => renderHygiene(page.data, false) + moreHint(page));
    }),
  );

  paged(
    program.command('stale').description('live keys older than their rotation period (--rotation-days)'),
    1000,
  ).action(
    withContext<PageOptions>(io, async (ctx, _a, o) => {
      const page = await fetchPages<HygieneRow>(
        ctx.usageService(),
        '/v1/keys/stale',
        { limit: o.limit, cursor: o.cursor },
        { all: Boolean(o.all), pageSize: 1000 },
      );
      print(ctx.io, ctx.json, page, () => renderHygiene(page.data, true) + moreHint(page));
    }),
  );

  paged(
    program
      .command('audit')
      .description('the event history of keys, groups, providers and admin tokens (key-service)')
      .option('--aggregate <id>', 'one stream: key_…, grp_…, prv_…, adm_…')
      .option('--type <type>', 'one event type, e.g. KeyRevoked')
      .option('--from <when>', 'since (inclusive): YYYY-MM-DD, ISO date-time or Nd (days ago)', pastArg())
      .option('--to <when>', 'until (exclusive)', pastArg()),
    500,
  ).action(
    withContext<PageOptions & { aggregate?: string; type?: string; from?: string; to?: string }>(
      io,
      async (ctx, _a, o) => {
        const query = {
          aggregateId: o.aggregate,
          type: o.type,
          from: o.from,
          to: o.to,
          limit: o.limit,
          cursor: o.cursor,
        };
        const page = await fetchPages<AuditEntry>(ctx.keyService(), '/v1/audit', query, {
          all: Boolean(o.all),
          pageSize: 500,
        });
        print(ctx.io, ctx.json, page, () => renderAudit(page.data, !o.aggregate) + moreHint(page));
      },
    ),
  );
};
