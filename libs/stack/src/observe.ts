import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, promises as fsp } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensureDebianPackage } from './apt';
import { isAlive } from './kafka-node';
import { resolveMavenArtifacts } from './maven';
import { commandExists, tailFile, waitFor, type InfraLog } from './wait';

// The SRE's view for `npm run up -- --observe`: a Zipkin server (the exec jar from Maven Central, run with the
// machine's Java) that the services export their spans to, and Debian's Prometheus scraping every keygate process
// with the rules of infra/prometheus. Both run detached in their own process group, like the Kafka broker.

export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
export const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
const READY_TIMEOUT_MS = 90_000;

/** Prometheus (and promtool) from Debian's package, installed when missing. */
export const ensurePrometheus = (log: InfraLog): void => {
  ensureDebianPackage(PROMETHEUS, 'prometheus', log);
  ensureDebianPackage(PROMTOOL, 'prometheus', log);
};

// infra/<name> of this repository, found from the sources (jest) and from dist/ alike.
export const infraPath = (...parts: string[]): string => {
  for (let dir = resolve(__dirname); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'infra', ...parts);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`Cannot find infra/${parts.join('/')} above ${__dirname}`);
};

export interface ObservedProcess {
  name: string;
  pid: number;
  url: string;
  logFile: string;
}

export interface ScrapeTarget {
  /** The keygate service: it becomes the target's `job` and `service` labels. */
  service: string;
  /** host:port of its HTTP listener (GET /metrics). */
  address: string;
}

const spawnDetached = async (
  name: string,
  cmd: string,
  args: string[],
  logFile: string,
  readyUrl: string,
  url: string,
): Promise<ObservedProcess> => {
  const fd = openSync(logFile, 'a');
  let exit: string | undefined;
  let child;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  child.on('error', (e) => (exit = `${cmd} could not be started: ${e.message}`));
  child.on('exit', (code, signal) => (exit = `${name} exited (${signal ?? `code ${code}`})`));
  child.unref();
  try {
    await waitFor(async () => (await fetch(readyUrl).catch(() => null))?.ok, {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 300,
      what: `${name} at ${readyUrl}`,
      abort: () => exit,
    });
  } catch (e) {
    if (child.pid) await stopObserved(child.pid);
    throw new Error(`${(e as Error).message}\n--- ${logFile} (tail) ---\n${await tailFile(logFile, 15)}`);
  }
  return { name, pid: child.pid!, url, logFile };
};

/**
 * Zipkin with in-memory storage on 127.0.0.1:`port`; its jar is resolved once into `artifactsDir/libs`
 * (infra/zipkin/pom.xml pins the version). Spans arrive at `url`/api/v2/spans.
 */
export const startZipkin = async (opts: {
  artifactsDir: string;
  logDir: string;
  port: number;
  log: InfraLog;
}): Promise<ObservedProcess> => {
  if (!(await commandExists('java'))) throw new Error('Cannot start Zipkin: `java` is not on PATH');
  const libs = join(opts.artifactsDir, 'libs');
  await resolveMavenArtifacts(infraPath('zipkin', 'pom.xml'), libs, 'the Zipkin server', (m) =>
    opts.log(`zipkin: ${m}`),
  );
  const jar = (await fsp.readdir(libs)).find((f) => /^zipkin-server-.*-exec\.jar$/.test(f));
  if (!jar) throw new Error(`No zipkin-server exec jar in ${libs}`);
  const url = `http://127.0.0.1:${opts.port}`;
  return spawnDetached(
    'zipkin',
    'java',
    ['-Xms64m', '-Xmx384m', '-XX:+UseSerialGC', '-jar', join(libs, jar), `--server.port=${opts.port}`],
    join(opts.logDir, 'zipkin.log'),
    `${url}/health`,
    url,
  );
};

/** prometheus.yml for the local stack: one job per service, the rules of infra/prometheus. */
export const prometheusConfig = (targets: ScrapeTarget[], interval: string, rulesDir: string): string => {
  const lines = [
    '# Written by libs/stack/src/observe.ts on every `npm run up -- --observe`; edits are overwritten.',
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'rule_files:',
    `  - ${JSON.stringify(join(rulesDir, '*.rules.yml'))}`,
    'scrape_configs:',
  ];
  const byService = new Map<string, string[]>();
  for (const t of targets) byService.set(t.service, [...(byService.get(t.service) ?? []), t.address]);
  for (const [service, addresses] of byService) {
    lines.push(
      `  - job_name: ${JSON.stringify(service)}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(addresses)}`,
      `        labels: { service: ${JSON.stringify(service)} }`,
    );
  }
  return `${lines.join('\n')}\n`;
};

/** Prometheus on 127.0.0.1:`port`, its data and config under `dir`. */
export const startPrometheus = async (opts: {
  dir: string;
  logDir: string;
  port: number;
  targets: ScrapeTarget[];
  scrapeInterval?: string;
  log: InfraLog;
}): Promise<ObservedProcess> => {
  ensurePrometheus(opts.log);
  await fsp.mkdir(join(opts.dir, 'data'), { recursive: true });
  const config = join(opts.dir, 'prometheus.yml');
  await fsp.writeFile(
    config,
    prometheusConfig(opts.targets, opts.scrapeInterval ?? '5s', infraPath('prometheus')),
  );
  const url = `http://127.0.0.1:${opts.port}`;
  return spawnDetached(
    'prometheus',
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(opts.dir, 'data')}`,
      '--storage.tsdb.retention.time=2d',
      `--web.listen-address=127.0.0.1:${opts.port}`,
    ],
    join(opts.logDir, 'prometheus.log'),
    `${url}/-/ready`,
    url,
  );
};

/** SIGTERM to the process group, SIGKILL after 15 s. */
export const stopObserved = async (pid: number): Promise<void> => {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* gone */
    }
  };
  signal('SIGTERM');
  try {
    await waitFor(async () => !isAlive(pid), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: `pid ${pid} to exit`,
    });
  } catch {
    signal('SIGKILL');
  }
};
