import { median, type LoadStats, type TtftStats } from './load';
import type { Machine } from './report';

// The one table `npm run bench` prints (and writes into bench/README.md): the floor in absolute figures, each
// gateway as what it adds to the floor under the same load.

export type SearchStep = LoadStats & { ok: boolean };

export interface GatewayBench {
  bench: 'gateway';
  run: string;
  at: string;
  machine: Machine;
  load: { start: { at: string; loadavg: number[] }; end: { at: string; loadavg: number[] } };
  config: Record<string, unknown>;
  targets: string[];
  latency: { mockMs: number; connections: number; stats: Record<string, LoadStats> }[];
  // CPU µs per request at c=10, mock instant, per target: the latency cell's, then one per pass (runs since
  // 2026-12-04 night; earlier ones have the cell's alone).
  cpu?: Record<string, number[]>;
  throughput: Record<string, SearchStep[]>;
  ttft: { mockMs: number; stats: Record<string, TtftStats> }[];
  rss: { idle: Record<string, number>; after: Record<string, number> };
  keygateEvidence: Record<string, number>;
}

// Issue 15's targets, ratios to the bare proxy (and the peer) measured in the same run.
export const TARGETS = {
  cpuVsBare: { keygate: 2.0, 'keygate-traced': 2.5 } as Record<string, number>,
  rpsVsBare: 0.5,
  rpsVsPeer: 4,
  addedP50OverBareMs: 0.3,
  addedP99VsBare: 2,
  ttftP50OverBareMs: 0.5,
};

// What each keygate target ran with (runs before issue 15: `keygate` traced every request, the default then).
const configLabel = (r: GatewayBench, kg: string): string => {
  const current = Array.isArray(r.config.variants) && (r.config.variants as string[]).includes('traced');
  if (kg === 'keygate')
    return current
      ? 'keygate, shipped default (traces sampled parent-based at 0.1)'
      : 'keygate (every request traced)';
  if (kg === 'keygate-traced')
    return 'keygate-traced, every request traced (OTEL_TRACES_SAMPLER=parentbased_always_on)';
  if (kg === 'keygate-sampled') return 'keygate-sampled (reference, 1% traced)';
  return `${kg} (reference, tracing off)`;
};

const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

// One line per keygate configuration: each target of issue 15 as the measured ratio and its verdict.
const targetNotes = (r: GatewayBench): string[] => {
  const out: string[] = [];
  const bare = 'bare-proxy';
  const c1 = r.latency.find((c) => c.mockMs === 0 && c.connections === 1);
  const c10 = r.latency.find((c) => c.mockMs === 0 && c.connections === 10);
  const c100 = r.latency.find((c) => c.mockMs === 0 && c.connections === 100);
  const ttft = r.ttft.find((t) => t.mockMs === 0);
  if (!c1?.stats[bare] || !c10 || !c100) return out;
  for (const kg of r.targets.filter((t) => t.startsWith('keygate'))) {
    const parts: string[] = [];
    // Before issue 15, `keygate` traced every request: its target is that configuration's.
    const current = Array.isArray(r.config.variants) && (r.config.variants as string[]).includes('traced');
    const cpuLimit = TARGETS.cpuVsBare[kg === 'keygate' && !current ? 'keygate-traced' : kg];
    const cpu = cpuRatio(r, c10, kg);
    parts.push(
      `CPU/request ${f(cpu)}× bare-proxy${r.cpu ? ` (median of ${r.cpu[kg].length} passes)` : ''}${cpuLimit ? ` (≤ ${cpuLimit}×: ${verdict(cpu <= cpuLimit)})` : ''}`,
    );
    const rpsBare = c100.stats[kg].rps / c100.stats[bare].rps;
    parts.push(
      `req/s at c=100 ${f(rpsBare)}× bare-proxy (≥ ${TARGETS.rpsVsBare}×: ${verdict(rpsBare >= TARGETS.rpsVsBare)})`,
    );
    if (c100.stats.portkey) {
      const rpsPeer = c100.stats[kg].rps / c100.stats.portkey.rps;
      parts.push(
        `${f(rpsPeer)}× portkey (≥ ${TARGETS.rpsVsPeer}×: ${verdict(rpsPeer >= TARGETS.rpsVsPeer)})`,
      );
    }
    const floor = c1.stats.floor;
    const p50 = c1.stats[kg].p50 - floor.p50;
    const bareP50 = c1.stats[bare].p50 - floor.p50;
    parts.push(
      `added p50 at c=1 ${plus(p50)} ms vs bare-proxy ${plus(bareP50)} (≤ +${TARGETS.addedP50OverBareMs}: ${verdict(p50 <= bareP50 + TARGETS.addedP50OverBareMs)})`,
    );
    const p99 = c1.stats[kg].p99 - floor.p99;
    const bareP99 = c1.stats[bare].p99 - floor.p99;
    parts.push(
      `added p99 at c=1 ${plus(p99)} ms vs bare-proxy ${plus(bareP99)} (≤ ${TARGETS.addedP99VsBare}×: ${verdict(p99 <= TARGETS.addedP99VsBare * Math.max(bareP99, 0))})`,
    );
    if (ttft?.stats[kg] && ttft.stats[bare]) {
      const t = ttft.stats[kg].p50 - ttft.stats.floor.p50;
      const tb = ttft.stats[bare].p50 - ttft.stats.floor.p50;
      parts.push(
        `streaming TTFT added p50 ${plus(t)} ms vs bare-proxy ${plus(tb)} (≤ +${TARGETS.ttftP50OverBareMs}: ${verdict(t <= tb + TARGETS.ttftP50OverBareMs)})`,
      );
    }
    out.push(`${configLabel(r, kg)}: ${parts.join('; ')}`);
  }
  return out;
};

// A gateway's CPU per request ÷ the bare proxy's: per pass (measured moments apart), then the median.
const cpuRatio = (r: GatewayBench, c10: GatewayBench['latency'][number], kg: string): number => {
  const bare = 'bare-proxy';
  if (!r.cpu) return (c10.stats[kg]?.cpuUsPerRequest ?? NaN) / (c10.stats[bare]?.cpuUsPerRequest ?? NaN);
  return median(r.cpu[kg].map((us, i) => us / r.cpu![bare][i]));
};

const f = (x: number): string => {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  return (a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2)).replace(/^-0\.00$/, '0.00');
};
const plus = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${f(x)}` : '–');
const mockName = (ms: number): string => (ms === 0 ? 'mock instant' : `mock ${ms} ms`);

export const peak = (steps: SearchStep[] | undefined): SearchStep | null =>
  (steps ?? []).reduce<SearchStep | null>((b, s) => (!b || s.rps > b.rps ? s : b), null);

export const best = (steps: SearchStep[] | undefined): SearchStep | null =>
  (steps ?? []).filter((s) => s.ok).reduce<SearchStep | null>((b, s) => (!b || s.rps > b.rps ? s : b), null);

export const buildTables = (r: GatewayBench): { main: string[][]; notes: string[] } => {
  const gateways = r.targets.filter((t) => t !== 'floor');
  const main: string[][] = [['', 'floor (absolute)', ...gateways.map((g) => `${g} (added)`)]];

  for (const cell of r.latency) {
    const floor = cell.stats.floor;
    main.push([
      `latency ms p50 / p99 / p99.9, ${mockName(cell.mockMs)}, c=${cell.connections}`,
      `${f(floor.p50)} / ${f(floor.p99)} / ${f(floor.p999)}`,
      ...gateways.map((g) => {
        const s = cell.stats[g];
        return `${plus(s.p50 - floor.p50)} / ${plus(s.p99 - floor.p99)} / ${plus(s.p999 - floor.p999)}`;
      }),
    ]);
  }
  for (const cell of r.latency.filter((c) => c.connections === 100))
    main.push([
      `req/s at c=100, ${mockName(cell.mockMs)}`,
      ...r.targets.map(
        (t) =>
          `${Math.round(cell.stats[t].rps)}${cell.stats[t].errors ? ` (${cell.stats[t].errors} err)` : ''}`,
      ),
    ]);
  main.push([
    'max req/s with p99 < 10 ms and < 0.1% errors, mock instant',
    ...r.targets.map((t) => {
      const b = best(r.throughput[t]);
      const top = peak(r.throughput[t]);
      return b
        ? `${Math.round(b.rps)} (c=${b.connections}, p99 ${f(b.p99)})`
        : `none; peak ${Math.round(top?.rps ?? NaN)} (c=${top?.connections}, p99 ${f(top?.p99 ?? NaN)})`;
    }),
  ]);
  for (const row of r.ttft) {
    const floor = row.stats.floor;
    main.push([
      `streaming TTFT ms p50 / p99, ${mockName(row.mockMs)}`,
      `${f(floor.p50)} / ${f(floor.p99)}`,
      ...gateways.map((g) => {
        const s = row.stats[g];
        return s.samples === 0
          ? `failed (${s.errors} errors)`
          : `${plus(s.p50 - floor.p50)} / ${plus(s.p99 - floor.p99)}`;
      }),
    ]);
  }
  main.push([
    'gateway RSS MiB, idle → after the run',
    '',
    ...gateways.map((g) => `${f(r.rss.idle[g])} → ${f(r.rss.after[g])}`),
  ]);
  const c10 = r.latency.find((c) => c.mockMs === 0 && c.connections === 10);
  if (r.cpu)
    main.push([
      `CPU µs per request of the process, mock instant, c=10 (median of ${r.cpu.floor.length} passes)`,
      ...r.targets.map((t) => f(median(r.cpu![t]))),
    ]);
  else if (c10)
    main.push([
      'CPU µs per request of the process, mock instant, c=10',
      ...r.targets.map((t) => String(c10.stats[t].cpuUsPerRequest ?? '–')),
    ]);

  const notes: string[] = [];
  const c1 = r.latency.find((c) => c.mockMs === 0 && c.connections === 1);
  const keygates = r.targets.filter((t) => t.startsWith('keygate'));
  notes.push(...targetNotes(r));
  const bareC1 = c1?.stats['bare-proxy'];
  if (bareC1)
    notes.push(
      `bare-proxy (reference, bench/lib/bare-proxy.ts: node:http, one Redis EVALSHA, undici, nothing else) added p99 at c=1: ${f(bareC1.p99 - c1!.stats.floor.p99)} ms — what any proxy costs on this machine before it does any work`,
    );
  if (!r.throughput.portkey) notes.push('portkey was not measured (@portkey-ai/gateway not installed)');
  const peer = r.config.peer as { version: string; honoNodeServer: string | null } | null;
  if (peer)
    notes.push(
      `peer: @portkey-ai/gateway ${peer.version} (@hono/node-server ${peer.honoNodeServer}), started with --headless`,
    );
  for (const row of r.ttft)
    for (const g of gateways)
      if (row.stats[g].error)
        notes.push(
          `${g} streaming, ${mockName(row.mockMs)}: ${row.stats[g].errors} failed, e.g. ${row.stats[g].error}`,
        );
  const e = r.keygateEvidence;
  notes.push(
    `keygate ran with auth (cache → Redis), ${String(r.config.keyFeatures ?? 'a rate limit of 10,000,000 req/min')} (the admission script on every request, ${e.rateLimiterRejections} refused), ` +
      `usage events (${e.usageEventsSent} sent to Kafka, ${e.usageEventsDropped} dropped) and telemetry ${r.config.telemetry ? `on (metrics, and traces exported over OTLP to a local sink: ${e.otlpExportRequests} exports)` : 'off'}.` +
      (keygates.length > 1
        ? ` Configurations on the same key and infrastructure: ${keygates.map((k) => configLabel(r, k)).join('; ')}; keygate-notrace has OTEL_SDK_DISABLED=true (metrics stay on).`
        : ''),
  );
  notes.push(
    'Latency is measured by autocannon (keep-alive, closed loop) at full resolution; "added" is the gateway\'s percentile minus the floor\'s under the same load and mock latency. CPU µs per request counts only that process (keygate also uses Redis and Kafka).',
  );
  return { main, notes };
};
