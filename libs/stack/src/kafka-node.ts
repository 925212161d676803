// One Apache Kafka KRaft node (broker and controller in one JVM) from the jars Maven resolves into
// <stackDir>/kafka/libs: its directory, configuration, storage format, process. Used by the single broker of
// `npm run up` / the tests (kafka.ts) and the three-node cluster of `npm run up -- --cluster` (kafka-cluster.ts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, promises as fsp, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { resolveMavenArtifacts } from './maven';
import { type InfraLog, runCommand, sleep, tailFile, waitFor } from './wait';

const STOP_TIMEOUT_MS = 30_000;

export interface KafkaPaths {
  dir: string;
  libs: string;
  data: string;
  config: string;
  log4j: string;
  serverLog: string;
  out: string;
  pid: string;
  lock: string;
}

export function kafkaPaths(stackDir: string, dataDir?: string): KafkaPaths {
  const shared = join(resolve(stackDir), 'kafka');
  const dir = dataDir ? resolve(dataDir) : shared;
  return {
    dir,
    libs: join(shared, 'libs'),
    data: join(dir, 'data'),
    config: join(dir, 'server.properties'),
    log4j: join(dir, 'log4j.properties'),
    serverLog: join(dir, 'server.log'),
    out: join(dir, 'kafka.out'),
    pid: join(dir, 'kafka.pid'),
    lock: join(dir, 'start.lock'),
  };
}

/** Whether `pid` runs (a zombie does not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) still accepts signal 0.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Guards against a recycled pid: only signal a process that really is a Kafka broker. */
async function isKafkaProcess(pid: number): Promise<boolean> {
  try {
    const cmdline = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0').includes('kafka.Kafka');
  } catch {
    // No /proc (not Linux): trust the pid file.
    return isAlive(pid);
  }
}

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await fsp.readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of a live broker started from this stackDir, if any; clears a stale pid file. */
export async function livePid(paths: KafkaPaths): Promise<number | undefined> {
  const pid = await readPidFile(paths.pid);
  if (pid === undefined) return undefined;
  if (isAlive(pid) && (await isKafkaProcess(pid))) return pid;
  await fsp.rm(paths.pid, { force: true });
  return undefined;
}

export function findPom(explicit?: string): string {
  if (explicit) return resolve(explicit);
  // Walk up so this works from the sources and from dist/ alike.
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      const candidate = join(dir, 'infra', 'kafka', 'pom.xml');
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error('Cannot find infra/kafka/pom.xml (looked above this module and the working directory)');
}

/** The broker's jars from Maven into <stackDir>/kafka/libs (maven.ts; skipped while the pom is unchanged). */
export const resolveJars = (paths: KafkaPaths, pomPath: string, log: InfraLog): Promise<void> =>
  resolveMavenArtifacts(pomPath, paths.libs, 'Apache Kafka jars', (m) => log(`kafka: ${m}`));

// Where one node listens and who votes: node ids 1..n, every node a controller (voters
// `1@127.0.0.1:<controllerPort>,…`); `replication` is the cluster's size, up to 3, for its internal topics.
export interface KafkaNodeConfig {
  nodeId: number;
  port: number;
  controllerPort: number;
  voters: string;
  replication: number;
}

export const singleNode = (port: number, controllerPort: number): KafkaNodeConfig => ({
  nodeId: 1,
  port,
  controllerPort,
  voters: `1@127.0.0.1:${controllerPort}`,
  replication: 1,
});

export async function writeConfig(paths: KafkaPaths, node: KafkaNodeConfig): Promise<void> {
  const { port, controllerPort } = node;
  const minIsr = node.replication >= 3 ? 2 : 1;
  const server = [
    '# Written by libs/stack/src/kafka.ts on every start; edits are overwritten.',
    'process.roles=broker,controller',
    `node.id=${node.nodeId}`,
    `controller.quorum.voters=${node.voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${paths.data}`,
    'num.partitions=1',
    `default.replication.factor=${node.replication}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${node.replication}`,
    `transaction.state.log.replication.factor=${node.replication}`,
    `transaction.state.log.min.isr=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    // Topics are declared (ensureTopics / the services' start-up), never created by a typo.
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
  const log4j = [
    '# Kafka logs go to a file so the console running `npm run up` / `npm test` stays readable.',
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${paths.serverLog}`,
    'log4j.appender.file.MaxFileSize=20MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka=INFO',
    'log4j.logger.org.apache.kafka=INFO',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.kafka.controller=INFO',
    'log4j.logger.state.change.logger=WARN',
    'log4j.logger.kafka.log.LogCleaner=WARN',
    'log4j.logger.kafka.authorizer.logger=WARN',
    'log4j.logger.org.apache.zookeeper=WARN',
    '',
  ].join('\n');
  await fsp.writeFile(paths.config, server);
  await fsp.writeFile(paths.log4j, log4j);
}

function javaArgs(paths: KafkaPaths): string[] {
  return [
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=${pathToFileURL(paths.log4j).href}`,
    `-Dkafka.logs.dir=${paths.dir}`,
    '-cp',
    // The JVM expands the wildcard itself; no shell is involved.
    `${paths.libs}/*`,
  ];
}

/** KRaft needs its log dir formatted once with a cluster id; meta.properties marks that it was. */
// Same shape as Uuid.randomUuid(): 16 random bytes, base64url, never starting with '-'.
export const newClusterId = (): string => {
  let id: string;
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  return id;
};

// The nodes of one cluster share its id.
export async function formatStorage(
  paths: KafkaPaths,
  log: InfraLog,
  clusterId = newClusterId(),
): Promise<void> {
  if (existsSync(join(paths.data, 'meta.properties'))) return;
  log('kafka: formatting storage (first run only)');
  await runCommand(
    'java',
    [...javaArgs(paths), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', paths.config],
    {
      timeoutMs: 60_000,
    },
  );
}

export async function failureDetail(paths: KafkaPaths): Promise<string> {
  const parts: string[] = [];
  const out = await tailFile(paths.out, 20);
  if (out) parts.push(`--- ${paths.out} (tail) ---\n${out}`);
  const server = await tailFile(paths.serverLog, 400);
  // The useful line (e.g. "failed to bind to 127.0.0.1:9093") tends to sit inside a long stack trace.
  const errors = server
    .split('\n')
    .filter((l) => /^\[[^\]]+\] (ERROR|FATAL) |^Caused by: /.test(l))
    .slice(-8);
  if (errors.length) parts.push(`--- errors in ${paths.serverLog} ---\n${errors.join('\n')}`);
  if (server) parts.push(`--- ${paths.serverLog} (tail) ---\n${server.split('\n').slice(-15).join('\n')}`);
  return parts.length ? `\n${parts.join('\n')}` : '';
}

export async function spawnBroker(
  paths: KafkaPaths,
): Promise<{ pid: number; exitReason: () => string | undefined }> {
  let exitReason: string | undefined;
  const out = openSync(paths.out, 'a');
  let child;
  try {
    // detached: its own process group, so stopKafka can signal the JVM and anything it forks, and so
    // Ctrl-C in the terminal that ran `npm run up` is handled by our code rather than hitting the JVM directly.
    child = spawn(
      'java',
      ['-Xmx512m', '-Xms256m', '-XX:+UseG1GC', ...javaArgs(paths), 'kafka.Kafka', paths.config],
      {
        cwd: paths.dir,
        detached: true,
        stdio: ['ignore', out, out],
      },
    );
  } finally {
    closeSync(out);
  }
  child.on('error', (err) => (exitReason = `java could not be started: ${err.message}`));
  child.on('exit', (code, signal) => (exitReason = `the broker exited (${signal ?? `code ${code}`})`));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(50); // let the 'error' event land
    throw new Error(exitReason ?? 'java could not be started');
  }
  await fsp.writeFile(paths.pid, `${pid}\n`);
  return { pid, exitReason: () => exitReason };
}

/** SIGTERM to the node's process group (SIGKILL after 30 s, or at once for a crash); resolves false if none ran. */
export async function stopBroker(paths: KafkaPaths, crash = false): Promise<boolean> {
  const pid = await livePid(paths);
  if (pid === undefined) return false;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signal(crash ? 'SIGKILL' : 'SIGTERM');
  try {
    await waitFor(async () => !isAlive(pid), {
      timeoutMs: crash ? 5_000 : STOP_TIMEOUT_MS,
      intervalMs: 200,
      what: `Kafka pid ${pid} to exit`,
    });
  } catch {
    signal('SIGKILL');
    await waitFor(async () => !isAlive(pid), {
      timeoutMs: 5_000,
      intervalMs: 100,
      what: `Kafka pid ${pid} to die`,
    });
  }
  await fsp.rm(paths.pid, { force: true });
  return true;
}
