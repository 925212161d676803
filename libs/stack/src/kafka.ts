import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, promises as fsp, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { resolveMavenArtifacts } from './maven';
import {
  commandExists,
  errorMessage,
  type InfraLog,
  isPortOpen,
  runCommand,
  sleep,
  tailFile,
  waitFor,
} from './wait';

export interface EnsureKafkaOptions {
  brokers: string[];
  stackDir: string;
  log: InfraLog;
  /** Defaults to infra/kafka/pom.xml of the repository this file lives in. */
  pomPath?: string;
  /**
   * A second, private broker (fault-injection tests stop and start it): its client and controller ports
   * (defaults 9092 / 9093) and its own directory for data, config, logs and pid file (default <stackDir>/kafka).
   * The jars are shared with the default broker's <stackDir>/kafka/libs.
   */
  port?: number;
  controllerPort?: number;
  dataDir?: string;
}

export interface EnsureKafkaResult {
  /** true when this call spawned the broker (the caller may want to stop it later). */
  started: boolean;
  pid?: number;
}

const LOCAL_BROKERS = new Set(['127.0.0.1:9092', 'localhost:9092']);
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 30_000;
/** A broker someone else is booting answers within seconds of binding; anything longer is not Kafka. */
const FOREIGN_PORT_TIMEOUT_MS = 30_000;
const LOCK_TIMEOUT_MS = 10 * 60_000;
const PROBE_TOPIC = '__keygate_probe';

interface KafkaPaths {
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

function kafkaPaths(stackDir: string, dataDir?: string): KafkaPaths {
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

/** A kafkajs client that fails fast and prints nothing: probing must not spam the console. */
export function quietKafka(brokers: string[], clientId: string, requestTimeout = 3_000, retries = 0): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_500,
    requestTimeout,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

/** Whether a broker answers at `brokers` (admin connect + describeCluster). */
export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  const admin = quietKafka(brokers, 'keygate-infra-probe').admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Readiness is "a produce with acks=all succeeds", not "the port is open": KRaft answers metadata
 * before it can take writes.
 */
async function probeProduce(brokers: string[]): Promise<true> {
  const kafka = quietKafka(brokers, 'keygate-infra-probe', 5_000);
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(PROBE_TOPIC)) {
      await admin.createTopics({
        topics: [
          {
            topic: PROBE_TOPIC,
            numPartitions: 1,
            replicationFactor: 1,
            configEntries: [{ name: 'retention.ms', value: '3600000' }],
          },
        ],
        waitForLeaders: true,
      });
    }
    await producer.connect();
    await producer.send({
      topic: PROBE_TOPIC,
      acks: -1,
      messages: [{ value: `probe ${new Date().toISOString()}` }],
    });
    return true;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
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

async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await fsp.readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of a live broker started from this stackDir, if any; clears a stale pid file. */
async function livePid(paths: KafkaPaths): Promise<number | undefined> {
  const pid = await readPidFile(paths.pid);
  if (pid === undefined) return undefined;
  if (isAlive(pid) && (await isKafkaProcess(pid))) return pid;
  await fsp.rm(paths.pid, { force: true });
  return undefined;
}

const inProcessStarts = new Map<string, Promise<void>>();

/**
 * Serialises starts from concurrent processes (e.g. `npm run up` and `npm test` at once) so only one
 * runs mvn/format/spawn. A lock whose owner died is taken over.
 */
async function withStartLock<T>(lockPath: string, fn: () => Promise<T>, log: InfraLog): Promise<T> {
  // Calls from this same process queue here first: the file lock cannot tell them apart.
  const previous = inProcessStarts.get(lockPath) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withFileLock(lockPath, fn, log));
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  inProcessStarts.set(lockPath, settled);
  try {
    return await run;
  } finally {
    if (inProcessStarts.get(lockPath) === settled) inProcessStarts.delete(lockPath);
  }
}

async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, log: InfraLog): Promise<T> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let announced = false;
  for (;;) {
    try {
      const handle = await fsp.open(lockPath, 'wx');
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readPidFile(lockPath);
    // No pid yet: the owner is between creating and writing the file, unless that was long ago.
    const stale =
      owner === undefined
        ? Date.now() - (await fsp.stat(lockPath).catch(() => ({ mtimeMs: 0 }))).mtimeMs > 5_000
        : owner === process.pid || !isAlive(owner);
    if (stale) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Kafka start lock ${lockPath} is held by pid ${owner}`);
    if (!announced) {
      log(`kafka: another process (pid ${owner}) is starting Kafka; waiting for it`);
      announced = true;
    }
    await sleep(500);
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockPath, { force: true });
  }
}

function findPom(explicit?: string): string {
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

async function writeConfig(paths: KafkaPaths, port: number, controllerPort: number): Promise<void> {
  const server = [
    '# Written by libs/stack/src/kafka.ts on every start; edits are overwritten.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${paths.data}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
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
async function formatStorage(paths: KafkaPaths, log: InfraLog): Promise<void> {
  if (existsSync(join(paths.data, 'meta.properties'))) return;
  // Same shape as Uuid.randomUuid(): 16 random bytes, base64url, never starting with '-'.
  let clusterId: string;
  do clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-'));
  log('kafka: formatting storage (first run only)');
  await runCommand(
    'java',
    [...javaArgs(paths), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', paths.config],
    {
      timeoutMs: 60_000,
    },
  );
}

async function failureDetail(paths: KafkaPaths): Promise<string> {
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

async function spawnBroker(
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

/**
 * Makes Kafka available at `brokers`: reuses whatever answers there, otherwise (only for the default
 * single-node 127.0.0.1:9092) starts Apache Kafka in KRaft mode from Maven Central jars under <stackDir>/kafka.
 */
export async function ensureKafka(opts: EnsureKafkaOptions): Promise<EnsureKafkaResult> {
  const { brokers, log } = opts;
  const port = opts.port ?? 9092;
  const controllerPort = opts.controllerPort ?? 9093;
  if (brokers.length === 0) throw new Error('No Kafka brokers configured (KAFKA_BROKERS is empty)');
  if (await kafkaAnswers(brokers)) {
    log(`kafka: reusing broker at ${brokers.join(',')}`);
    return { started: false };
  }
  const local = opts.port === undefined ? LOCAL_BROKERS : new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  if (brokers.length !== 1 || !local.has(brokers[0])) {
    throw new Error(
      `Kafka does not answer at KAFKA_BROKERS=${brokers.join(',')}; only the default single-node 127.0.0.1:9092 ` +
        'is started automatically, so start that cluster yourself or unset KAFKA_BROKERS',
    );
  }
  const paths = kafkaPaths(opts.stackDir, opts.dataDir);
  await fsp.mkdir(paths.dir, { recursive: true });

  return withStartLock(
    paths.lock,
    async () => {
      // Another process may have started it while we waited for the lock, or a start may still be booting.
      const existing = await livePid(paths);
      if (existing !== undefined) {
        log(`kafka: broker pid ${existing} from ${paths.dir} is running; waiting until it takes writes`);
        await waitForReady(brokers, paths, () => (isAlive(existing) ? undefined : 'the broker exited'));
        return { started: false, pid: existing };
      }
      if (await isPortOpen('127.0.0.1', port)) {
        // Something we did not start holds the port; give it the chance to be a booting broker.
        log(`kafka: 127.0.0.1:${port} is open but not answering as Kafka yet; waiting`);
        await waitForReady(brokers, paths, () => undefined, {
          timeoutMs: FOREIGN_PORT_TIMEOUT_MS,
          hint: `something that is not a working Kafka broker holds 127.0.0.1:${port}`,
          withLogs: false, // our logs would describe an older run, not this process
        });
        return { started: false };
      }

      if (!(await commandExists('java')))
        throw new Error('Cannot start Kafka: `java` is not on PATH (Java 17+ is needed)');
      const t0 = Date.now();
      await resolveMavenArtifacts(findPom(opts.pomPath), paths.libs, 'Apache Kafka jars', (m) =>
        log(`kafka: ${m}`),
      );
      await writeConfig(paths, port, controllerPort);
      await formatStorage(paths, log);
      const { pid, exitReason } = await spawnBroker(paths);
      log(`kafka: started broker pid ${pid} (logs in ${paths.dir}); waiting until it takes writes`);
      try {
        await waitForReady(brokers, paths, exitReason);
      } catch (err) {
        await stopKafka(opts.stackDir, opts.dataDir).catch(() => undefined);
        throw err;
      }
      log(`kafka: ready at ${brokers[0]} after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      return { started: true, pid };
    },
    log,
  );
}

async function waitForReady(
  brokers: string[],
  paths: KafkaPaths,
  abort: () => string | undefined,
  {
    timeoutMs = READY_TIMEOUT_MS,
    hint,
    withLogs = true,
  }: { timeoutMs?: number; hint?: string; withLogs?: boolean } = {},
): Promise<void> {
  try {
    await waitFor(() => probeProduce(brokers), {
      timeoutMs,
      intervalMs: 500,
      what: `Kafka at ${brokers.join(',')} to accept a produce`,
      abort,
    });
  } catch (err) {
    throw new Error(
      `${errorMessage(err)}${hint ? ` (${hint})` : ''}${withLogs ? await failureDetail(paths) : ''}`,
    );
  }
}

/**
 * Stops the broker recorded in <stackDir>/kafka/kafka.pid (or <dataDir>/kafka.pid for a private broker: SIGTERM
 * to its process group, SIGKILL after 30 s) and waits until it has exited. Resolves false when there was nothing
 * of ours to stop.
 */
export async function stopKafka(stackDir: string, dataDir?: string): Promise<boolean> {
  const paths = kafkaPaths(stackDir, dataDir);
  const pid = await livePid(paths);
  if (pid === undefined) return false;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  signal('SIGTERM');
  try {
    await waitFor(async () => !isAlive(pid), {
      timeoutMs: STOP_TIMEOUT_MS,
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
