// A three-node Apache Kafka KRaft cluster on this machine (`npm run up -- --cluster`, the clustered tests): every
// node a broker and a controller, from the same jars as the single broker, each with its own directory under
// <dir>/node-<id>. Topics created on it are replicated three times with min.insync.replicas=2 (ensureTopics), so a
// producer with acks=all keeps going while any one node is down.
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { quietKafka } from './kafka';
import {
  failureDetail,
  findPom,
  formatStorage,
  kafkaPaths,
  livePid,
  newClusterId,
  resolveJars,
  spawnBroker,
  stopBroker,
  writeConfig,
  type KafkaNodeConfig,
  type KafkaPaths,
} from './kafka-node';
import { commandExists, errorMessage, type InfraLog, waitFor } from './wait';

export interface KafkaClusterOptions {
  stackDir: string;
  /** The cluster's own directory (default <stackDir>/kafka-cluster); the jars are <stackDir>/kafka/libs. */
  dir?: string;
  /** Client port of node 1; node i listens on basePort + 2(i-1), its controller on the port after (19092…19097). */
  basePort?: number;
  size?: number;
  log: InfraLog;
}

export interface KafkaClusterNode extends KafkaNodeConfig {
  paths: KafkaPaths;
  broker: string;
}

export interface KafkaCluster {
  brokers: string[];
  nodes: KafkaClusterNode[];
  /** true when this call started at least one node. */
  started: boolean;
  /** Crash (SIGKILL) or stop one node, and start it again: for fault tests. */
  stopNode(nodeId: number, crash?: boolean): Promise<void>;
  startNode(nodeId: number): Promise<void>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 120_000;
const DEFAULT_BASE_PORT = 19092;

/** The brokers' addresses, without starting anything: what a test run gives its clients before the cluster is up. */
export const kafkaClusterBrokers = (basePort = DEFAULT_BASE_PORT, size = 3): string[] =>
  Array.from({ length: size }, (_, i) => `127.0.0.1:${basePort + 2 * i}`);

const layout = (opts: KafkaClusterOptions): { dir: string; nodes: KafkaClusterNode[] } => {
  const size = opts.size ?? 3;
  const basePort = opts.basePort ?? DEFAULT_BASE_PORT;
  const dir = resolve(opts.dir ?? join(opts.stackDir, 'kafka-cluster'));
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const voters = ids.map((id) => `${id}@127.0.0.1:${basePort + 2 * (id - 1) + 1}`).join(',');
  const brokers = kafkaClusterBrokers(basePort, size);
  const nodes = ids.map((nodeId) => {
    const port = basePort + 2 * (nodeId - 1);
    return {
      nodeId,
      port,
      controllerPort: port + 1,
      voters,
      replication: Math.min(3, size),
      paths: kafkaPaths(opts.stackDir, join(dir, `node-${nodeId}`)),
      broker: brokers[nodeId - 1],
    };
  });
  return { dir, nodes };
};

// Every node registered and a write with acks=all on a replicated topic taken: the cluster can serve.
const clusterReady = async (brokers: string[], size: number): Promise<boolean> => {
  const admin = quietKafka(brokers, 'keygate-infra-probe', 5_000).admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length === size;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

export async function ensureKafkaCluster(opts: KafkaClusterOptions): Promise<KafkaCluster> {
  const { dir, nodes } = layout(opts);
  const brokers = nodes.map((n) => n.broker);
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const node = (id: number): KafkaClusterNode => {
    const n = byId.get(id);
    if (!n) throw new Error(`no Kafka node ${id} in this cluster (1..${nodes.length})`);
    return n;
  };
  const startNode = async (id: number): Promise<void> => {
    const n = node(id);
    if ((await livePid(n.paths)) !== undefined) return;
    await writeConfig(n.paths, n);
    await spawnBroker(n.paths);
  };
  const cluster: KafkaCluster = {
    brokers,
    nodes,
    started: false,
    stopNode: async (id, crash = false) => void (await stopBroker(node(id).paths, crash)),
    startNode,
    stop: async () => void (await Promise.all(nodes.map((n) => stopBroker(n.paths)))),
  };
  if (await clusterReady(brokers, nodes.length)) {
    opts.log(`kafka cluster: reusing ${brokers.join(',')}`);
    return cluster;
  }
  if (!(await commandExists('java'))) throw new Error('Cannot start Kafka: `java` is not on PATH (Java 17+)');
  const t0 = Date.now();
  await resolveJars(kafkaPaths(opts.stackDir), findPom(), opts.log);
  // One cluster id for every node, kept beside them so a restarted cluster formats nothing again.
  await fsp.mkdir(dir, { recursive: true });
  const idFile = join(dir, 'cluster-id');
  if (!existsSync(idFile)) await fsp.writeFile(idFile, `${newClusterId()}\n`);
  const clusterId = readFileSync(idFile, 'utf8').trim();
  for (const n of nodes) {
    if ((await livePid(n.paths)) !== undefined) continue;
    await fsp.mkdir(n.paths.dir, { recursive: true });
    await writeConfig(n.paths, n);
    await formatStorage(n.paths, opts.log, clusterId);
    await spawnBroker(n.paths);
    cluster.started = true;
  }
  opts.log(`kafka cluster: started ${nodes.length} nodes (logs in ${dir}); waiting until all have joined`);
  try {
    await waitFor(() => clusterReady(brokers, nodes.length), {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 500,
      what: `${nodes.length} Kafka nodes at ${brokers.join(',')}`,
    });
  } catch (err) {
    const details = await Promise.all(nodes.map((n) => failureDetail(n.paths)));
    await cluster.stop().catch(() => undefined);
    throw new Error(`${errorMessage(err)}${details.join('')}`);
  }
  opts.log(`kafka cluster: ready at ${brokers.join(',')} after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return cluster;
}

export async function stopKafkaCluster(opts: KafkaClusterOptions): Promise<void> {
  await Promise.all(layout(opts).nodes.map((n) => stopBroker(n.paths)));
}
