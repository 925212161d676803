import type { Command } from 'commander';
import type { Io } from '../io/io';
import { print, renderTable, type Column } from '../io/output';
import { withContext } from './context';
import { renderAudit, type AuditEntry } from './key-view';
import { intArg, pastArg } from './option-parsers';
import { listAction, pagedOptions, type PageOptions } from './pages';

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
          ] as Column<HygieneRow>[])
        : ([['CREATED', (r) => r.createdAt]] as Column<HygieneRow>[])),
    ],
    rows,
  );

export const registerReports = (program: Command, io: Io): void => {
  const alerts = program.command('alerts').description('budget, anomaly and key alerts (usage-service)');
  pagedOptions(
    alerts
      .command('list')
      .description('alerts, newest first')
      .option('--key <id>', 'for one key')
      .option('--type <type>', 'one alert type')
      .option('--since <when>', 'raised since: YYYY-MM-DD, ISO date-time or Nd (days ago)', pastArg()),
    500,
  ).action(
    listAction<Alert, PageOptions & { key?: string; type?: string; since?: string }>(io, {
      service: 'usage-service',
      path: '/v1/alerts',
      pageSize: 500,
      query: (o) => ({ keyId: o.key, type: o.type, since: o.since }),
      render: renderAlerts,
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

  pagedOptions(
    program
      .command('unused')
      .description('live keys without a request for N days (never-used keys count from their creation)')
      .requiredOption('--days <n>', 'days without a request', intArg(1, 3650)),
    1000,
  ).action(
    listAction<HygieneRow, PageOptions & { days: number }>(io, {
      service: 'usage-service',
      path: '/v1/keys/unused',
      pageSize: 1000,
      query: (o) => ({ days: o.days }),
      render: (rows) => renderHygiene(rows, false),
    }),
  );

  pagedOptions(
    program.command('stale').description('live keys older than their rotation period (--rotation-days)'),
    1000,
  ).action(
    listAction<HygieneRow>(io, {
      service: 'usage-service',
      path: '/v1/keys/stale',
      pageSize: 1000,
      render: (rows) => renderHygiene(rows, true),
    }),
  );

  pagedOptions(
    program
      .command('audit')
      .description('the event history of keys, groups, providers and admin tokens (key-service)')
      .option('--aggregate <id>', 'one stream: key_…, grp_…, prv_…, adm_…')
      .option('--type <type>', 'one event type, e.g. KeyRevoked')
      .option('--from <when>', 'since (inclusive): YYYY-MM-DD, ISO date-time or Nd (days ago)', pastArg())
      .option('--to <when>', 'until (exclusive)', pastArg()),
    500,
  ).action(
    listAction<AuditEntry, PageOptions & { aggregate?: string; type?: string; from?: string; to?: string }>(
      io,
      {
        service: 'key-service',
        path: '/v1/audit',
        pageSize: 500,
        query: (o) => ({ aggregateId: o.aggregate, type: o.type, from: o.from, to: o.to }),
        render: (rows, o) => renderAudit(rows, !o.aggregate),
      },
    ),
  );
};
