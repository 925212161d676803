// `npm run up -- --observe`: Zipkin and Prometheus beside the stack (libs/stack/src/observe.ts starts
// them), and the variables that make the services export their spans to that Zipkin.
import { join } from 'node:path';
import {
  isPortOpen,
  startPrometheus,
  startZipkin,
  stopObserved,
  type ObservedProcess,
  type ScrapeTarget,
} from '@keygate/stack';

export interface Observe {
  zipkin: ObservedProcess;
  prometheus: ObservedProcess;
  /** For the services: OTEL_TRACES_EXPORTER gains zipkin, exported within a second. */
  serviceEnv: Record<string, string>;
}

export const observePorts = (env: NodeJS.ProcessEnv) => ({
  zipkin: Number(env.ZIPKIN_PORT ?? 9411),
  prometheus: Number(env.PROMETHEUS_PORT ?? 9090),
});

export const startObserve = async (opts: {
  root: string;
  stackDir: string;
  env: NodeJS.ProcessEnv;
  targets: ScrapeTarget[];
  log: (msg: string) => void;
}): Promise<Observe> => {
  const { env, log } = opts;
  const ports = observePorts(env);
  for (const [name, port] of Object.entries(ports)) {
    if (await isPortOpen('127.0.0.1', port))
      throw new Error(
        `port ${port} (${name}) is taken by another process; stop it or set ${name.toUpperCase()}_PORT`,
      );
  }
  const logDir = join(opts.stackDir, 'logs');
  const [zipkin, prometheus] = await Promise.allSettled([
    // The jar is an artifact, like Maven's own cache: one copy for every stack directory of this checkout.
    startZipkin({ artifactsDir: join(opts.root, '.stack', 'zipkin'), logDir, port: ports.zipkin, log }),
    startPrometheus({
      dir: join(opts.stackDir, 'prometheus'),
      logDir,
      port: ports.prometheus,
      targets: opts.targets,
      scrapeInterval: env.PROMETHEUS_SCRAPE_INTERVAL ?? '5s',
      log,
    }),
  ]);
  if (zipkin.status === 'rejected' || prometheus.status === 'rejected') {
    for (const p of [zipkin, prometheus]) if (p.status === 'fulfilled') await stopObserved(p.value.pid);
    const reasons = [zipkin, prometheus].flatMap((p) =>
      p.status === 'rejected' ? [(p.reason as Error).message] : [],
    );
    throw new Error(`--observe: ${reasons.join('\n')}`);
  }
  const exporters = new Set((env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()));
  exporters.delete('');
  exporters.delete('none');
  exporters.add('zipkin');
  return {
    zipkin: zipkin.value,
    prometheus: prometheus.value,
    serviceEnv: {
      OTEL_TRACES_EXPORTER: [...exporters].join(','),
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${zipkin.value.url}/api/v2/spans`,
      // A trace shows up in Zipkin a second after the request instead of five.
      OTEL_BSP_SCHEDULE_DELAY: env.OTEL_BSP_SCHEDULE_DELAY ?? '1000',
      // Looking is the point of --observe: every request is traced (the shipped default samples one root in ten).
      OTEL_TRACES_SAMPLER: env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on',
    },
  };
};

export const printObserve = (o: Observe, log: (msg: string) => void): void => {
  log(`  zipkin        ${o.zipkin.url}/zipkin/  (every request's trace, gateway → Kafka → usage-service)`);
  log(
    `  prometheus    ${o.prometheus.url}  (rules and alerts: infra/prometheus, ${o.prometheus.url}/alerts)`,
  );
};
