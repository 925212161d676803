import { promises as fsp } from 'node:fs';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import {
  failureDetail,
  findPom,
  formatStorage,
  isAlive,
  kafkaPaths,
  livePid,
  readPidFile,
  resolveJars,
  singleNode,
  spawnBroker,
  stopBroker,
  writeConfig,
  type KafkaPaths,
} from './kafka-node';
import { commandExists, errorMessage, type InfraLog, isPortOpen, sleep, waitFor } from './wait';

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
/** A broker someone else is booting answers within seconds of binding; anything longer is not Kafka. */
const FOREIGN_PORT_TIMEOUT_MS = 30_000;
const LOCK_TIMEOUT_MS = 10 * 60_000;
const PROBE_TOPIC = '__keygate_probe';

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
      await resolveJars(paths, findPom(opts.pomPath), log);
      await writeConfig(paths, singleNode(port, controllerPort));
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
  return stopBroker(kafkaPaths(stackDir, dataDir));
}
