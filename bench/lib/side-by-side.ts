import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startKeygate, startOtlpSink, telemetryConfigs } from './keygate';
import type { Target } from './load';
import { startGatewayInfra } from './private-infra';
import { BENCH_STACK_DIR, ROOT, startBareProxy } from './processes';

/** The targets of a side by side: the mock alone, the bare proxy, and each build's gateway per configuration. */
export interface SideBySide {
  floor: Target;
  bare: Target;
  gateways: Target[]; // `before, <configuration>` for each configuration, then `after, <configuration>`
  configurations: string[];
}

// An earlier build's gateway beside this one (ab-gateway.js, closed-loop-ab.js), on one private infrastructure,
// one mock and one key: for each telemetry configuration in `configKinds` (telemetryConfigs), one gateway from
// `before` (the root of that build) and one from this build.
export const startSideBySide = async (
  before: string,
  configKinds: string,
  key: Record<string, unknown>,
): Promise<SideBySide> => {
  const run = randomBytes(4).toString('hex');
  const logDir = join(BENCH_STACK_DIR, `bench-${run}`, 'logs');
  const infra = await startGatewayInfra(run, logDir);
  const { redis, mock } = infra;
  const sink = await startOtlpSink();
  const kinds = telemetryConfigs(sink.url, configKinds);
  const configs = [
    ...kinds.map((k) => ({ name: `before, ${k.name}`, root: before, env: k.env })),
    ...kinds.map((k) => ({ name: `after, ${k.name}`, root: ROOT, env: k.env })),
  ];
  const keygate = await startKeygate({
    ...infra.keygate,
    gateways: configs.length,
    perGatewayEnv: configs.map((c) => c.env),
    perGatewayBuildRoot: configs.map((c) => c.root),
  });
  const groupId = await keygate.createGroup(['gpt-4o-mini']);
  const created = await keygate.createKey({ groupIds: [groupId], ...key });
  await keygate.waitForRoute(created.key, 'gpt-4o-mini');
  const bare = await startBareProxy(logDir, mock.url, redis.url);
  return {
    floor: {
      name: 'floor',
      url: `${mock.url}/v1/chat/completions`,
      headers: { authorization: 'Bearer mock-openai' },
      pid: mock.proc.pid,
    },
    bare: { name: 'bare-proxy', url: `${bare.url}/v1/chat/completions`, headers: {}, pid: bare.proc.pid },
    configurations: kinds.map((k) => k.name),
    gateways: configs.map((c, i) => ({
      name: c.name,
      url: `${keygate.gatewayUrls[i]}/v1/chat/completions`,
      headers: { authorization: `Bearer ${created.key}` },
      pid: keygate.gateways[i].pid,
    })),
  };
};
