import { quantile } from '../lib/load';
import { load, machine, machineLine, markdownTable, stamp } from '../lib/report';
import type { RedisFootprint, RedisKind } from '../lib/bench-redis';
import type { KeyServiceFigure } from './key-service';
import type { HotCacheStats, RebuildStats } from './projection';
import type { RevokeStats } from './revoke';
import type { IngestStats } from './usage-ingest';
import type { UsageLagStats } from './usage-lag';

// What `node dist/bench/scale.js` records (bench/results/scale-<date>.json) and the table it prints and writes
// into bench/README.md; `--report` renders saved runs with the same rows.

export const TARGETS = { revokeP99Ms: 100, startSecondsWithKeys: 2 };

export interface ScaleResult {
  bench: 'scale';
  run: string;
  at: string;
  machine: ReturnType<typeof machine>;
  load?: { start: ReturnType<typeof load>; end: ReturnType<typeof load> };
  only?: string; // BENCH_ONLY, when the run measured a subset
  // Which Redis the services ran on (absent in runs before BENCH_REDIS existed: one redis-server).
  redis?: { kind: RedisKind; description: string };
  revoke?: RevokeStats;
  usage?: IngestStats;
  usageLag?: UsageLagStats;
  keyService?: KeyServiceFigure | null;
  // A gateway's spawn → /health/ready, `starts` times each: on the empty projection (before the keys were produced)
  // and with the keys in Redis (after the rebuild).
  startup?: { keys: number; emptySeconds: number[]; keysSeconds?: number[] };
  projection?: {
    keys: number;
    produced: { seconds: number; mib: number };
    rebuild: RebuildStats;
    redis: RedisFootprint;
    gateway?: HotCacheStats;
  };
  errors: Record<string, string>;
}

const verdict = (pass: boolean): string => (pass ? 'PASS' : 'MISS');

export const scaleRows = (r: ScaleResult): string[][] => {
  const kind = r.redis?.kind ?? 'single';
  // Said on every figure Redis takes part in, so a row copied out of the table still says what it ran on.
  const on = kind === 'cluster' ? ' [Redis Cluster]' : ' [one Redis]';
  const rows: string[][] = [['figure', 'value', 'detail']];
  rows.push([
    'Redis',
    kind,
    `${r.redis?.description ?? 'one redis-server'} (BENCH_REDIS=${kind}), the bench's own, no persistence`,
  ]);
  if (r.revoke) {
    const v = r.revoke;
    rows.push([
      `revoke-to-first-401, both of ${v.instances} gateways, ms (${v.revocations} revocations)${on}`,
      `p50 ${v.allInstancesMs.p50} / p99 ${v.allInstancesMs.p99} / max ${v.allInstancesMs.max}`,
      `target p99 ≤ ${TARGETS.revokeP99Ms} ms: ${verdict(v.allInstancesMs.p99 <= TARGETS.revokeP99Ms)}; ` +
        `revoke call itself p50 ${v.revokeCallMs.p50} / p99 ${v.revokeCallMs.p99}; per instance p99 ` +
        v.perInstanceMs.map((p) => p.p99).join(' / '),
    ]);
  }
  if (r.usage) {
    const u = r.usage;
    rows.push([
      'usage-service ingest, events/s into the ledger',
      String(u.eventsPerSecond),
      `a backlog of ${u.events} RequestCompleted over ${u.keys} keys drained in ${u.ledgerSeconds} s (first to last ledger row); service RSS ${u.serviceRssMiB} MiB`,
    ]);
  }
  if (r.usageLag) {
    const l = r.usageLag;
    rows.push([
      `usage lag, gateway answer → aggregate visible, ms${on}`,
      `p50 ${l.lagMs.p50} / p99 ${l.lagMs.p99} / max ${l.lagMs.max}`,
      `${l.requests} chat completions at ${l.ratePerSecond} req/s for ${l.seconds} s through one gateway; usage_minute polled every ${l.pollMs} ms; includes the gateway's USAGE_FLUSH_MS buffer (${l.flushMs ?? 100} ms)`,
    ]);
  }
  if (r.keyService) {
    const k = r.keyService;
    rows.push([
      'key-service creates/s (bench/key-service)',
      String(k.createsPerSecond),
      `${k.clients} clients, ${k.seconds} s; create p99 ${k.createLatencyMs.p99} ms; publish lag p99 ${k.publishLagMs.p99} ms (${k.source})`,
    ]);
  }
  if (r.startup) rows.push(startupRow(r.startup, on));
  if (r.projection) rows.push(...projectionRows(r.projection, on));
  for (const [name, message] of Object.entries(r.errors))
    rows.push([`${name}: failed`, '', message.slice(0, 200)]);
  return rows;
};

const median = (xs: number[]): number =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

const startupRow = (s: NonNullable<ScaleResult['startup']>, on: string): string[] => {
  const keys = s.keys.toLocaleString('en');
  const withKeys = s.keysSeconds?.length ? median(s.keysSeconds) : undefined;
  const samples = (xs?: number[]) => (xs?.length ? xs.join(', ') : 'not measured');
  return [
    `gateway start-up (spawn → /health/ready), s: empty projection / ${keys} keys in Redis${on}`,
    `${median(s.emptySeconds)} / ${withKeys ?? '–'}`,
    `target < ${TARGETS.startSecondsWithKeys} s with ${keys} keys: ${withKeys === undefined ? 'not measured' : verdict(withKeys < TARGETS.startSecondsWithKeys)}; ` +
      `medians of ${s.emptySeconds.length} starts (empty: ${samples(s.emptySeconds)}; with the keys: ${samples(s.keysSeconds)}); ` +
      'readiness polled every 50 ms; start-up reads the group and credential id sets, no SCAN',
  ];
};

const projectionRows = (p: NonNullable<ScaleResult['projection']>, on: string): string[][] => {
  const keys = p.keys.toLocaleString('en');
  const g = p.gateway;
  const rows: string[][] = [];
  rows.push([
    `projection rebuild, ${keys} keys from keys.events${on}`,
    `${p.rebuild.seconds} s`,
    `${p.rebuild.events} events, ${p.rebuild.eventsPerSecond}/s; command RSS max ${p.rebuild.commandRssMaxMiB} MiB; topic ${p.produced.mib} MiB` +
      (p.rebuild.nodeArgs ? `; command run with node ${p.rebuild.nodeArgs}` : ''),
  ]);
  const perMaster = p.redis.perMaster
    ?.map((m) => `:${m.port} ${m.usedMemoryMiB} MiB, ${m.keys} keys`)
    .join('; ');
  rows.push([
    `Redis with the projection${on}`,
    `${p.redis.usedMemoryMiB} MiB`,
    `${p.redis.keys} Redis keys` +
      (perMaster ? `, summed over the masters (${perMaster}); replicas not counted` : ''),
  ]);
  if (g)
    rows.push([
      `gateway RSS, ${keys} keys in Redis, ${g.hot.toLocaleString('en')} hot (AUTH_CACHE_MAX=${g.cacheMax})${on}`,
      `${g.rssHotMiB} MiB`,
      `${g.rssIdleMiB} MiB before the warm-up (ready ${g.startSeconds} s after start); warmed at ${g.warmRequestsPerSecond} req/s; statuses ${JSON.stringify(g.statuses)}; lookups ${JSON.stringify(g.lookups)}`,
    ]);
  return rows;
};

const command = (r: ScaleResult): string =>
  [
    r.redis?.kind === 'cluster' && 'BENCH_REDIS=cluster',
    r.only && `BENCH_ONLY=${r.only}`,
    r.projection?.rebuild.nodeArgs &&
      `BENCH_REBUILD_NODE_ARGS=${JSON.stringify(r.projection.rebuild.nodeArgs)}`,
    'node dist/bench/scale.js',
  ]
    .filter(Boolean)
    .join(' ');

export const readmeBlock = (r: ScaleResult): string =>
  [
    `### Run ${r.at}`,
    '',
    `\`${command(r)}\`: ${machineLine(r.machine)}.`,
    `Load average (\`uptime\`) ${r.load?.start.loadavg.join(' ')} at the start, ${r.load?.end.loadavg.join(' ')} at the end.`,
    '',
    markdownTable(scaleRows(r)),
    '',
    `Raw figures: \`bench/results/scale-${stamp(r.at)}.json\`.`,
  ].join('\n');
