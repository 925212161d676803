// A six-node Redis Cluster on this machine (`npm run up -- --cluster`, the clustered tests, fault tests): three
// masters with a replica each, from the machine's redis-server, every node in <stackDir>/<dirName>/<port>. Nothing
// is persisted (no RDB, no AOF) except nodes.conf, each node's view of the cluster, which lets a stopped or killed
// node come back into the cluster it left (a killed master comes back as a replica of the one that replaced it).
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { isAlive } from './kafka-node';
import { commandExists, errorMessage, type InfraLog, runCommand, tailFile, waitFor } from './wait';

export interface RedisClusterOptions {
  stackDir: string;
  /** Port of the first node: the six listen on basePort..basePort+5 (their cluster bus 10000 higher). */
  basePort?: number;
  /** The cluster's directory under stackDir: `npm run up` and the tests each keep their own. */
  dirName?: string;
  log: InfraLog;
}

export interface RedisCluster {
  /** true when this call started at least one node. */
  started: boolean;
  /** 'host:port' of all six nodes. */
  nodes: string[];
  /** The nodes as REDIS_CLUSTER_NODES takes them (comma-separated). */
  nodesEnv: string;
  /** The node's redis-server pid, undefined when it is not running. */
  pidOf(port: number): number | undefined;
  /** The masters serving slots now, as the most up-to-date node sees them. */
  masters(): Promise<{ port: number; pid: number | undefined }[]>;
  /** The port of the live replica of the master at masterPort, if it has one. */
  replicaOf(masterPort: number): Promise<number | undefined>;
  /** SIGKILL one node and wait until it is gone: a crash, for fault tests. */
  crashNode(port: number): Promise<void>;
  /** Start a node again from its nodes.conf and wait until the cluster is whole again (three masters, three replicas). */
  restartNode(port: number): Promise<void>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SIZE = 6;
const SLOTS = 16_384;
// Short, so a test sees a failover within seconds (Redis' default is 15 s).
const NODE_TIMEOUT_MS = 2_000;
const READY_TIMEOUT_MS = 30_000;
// How long nodes restarted from their nodes.conf get to find each other before the cluster is created anew.
const RESUME_TIMEOUT_MS = 15_000;

/** The nodes' addresses, without starting anything: what a test passes to its clients. */
export const redisClusterNodes = (basePort = 7001): string[] =>
  Array.from({ length: SIZE }, (_, i) => `${HOST}:${basePort + i}`);

const clusterDir = (stackDir: string, dirName = 'redis-cluster'): string => resolve(stackDir, dirName);
const nodeDir = (dir: string, port: number): string => join(dir, String(port));

// One short-lived connection per command: the checks run while nodes die and come back.
async function nodeCommand(port: number, ...args: string[]): Promise<string> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    // disconnect() ends the socket and arms a timer (2 s by default) that a connection already closed by the node
    // (refused, SHUTDOWN) never clears: it would keep a finished test run alive.
    disconnectTimeout: 100,
  });
  // The event has the real cause (ECONNREFUSED...), where connect() only rejects with "Connection is closed.".
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause = err));
  try {
    await client.connect().catch((err: unknown) => Promise.reject(cause ?? err));
    return String(await client.call(args[0], ...args.slice(1)));
  } finally {
    client.disconnect();
  }
}

const parseInfo = (text: string): Record<string, string> =>
  Object.fromEntries(text.split(/\r?\n/).map((line) => line.split(':', 2)));

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  hasSlots: boolean;
}

// CLUSTER NODES: <id> <ip:port@busport> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot>...
const parseNodes = (text: string): NodeLine[] =>
  text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(address)?.[1]);
      return { id, port, flags: flags.split(','), masterId, hasSlots: slots.length > 0 };
    });

const failing = (n: NodeLine): boolean =>
  n.flags.some((f) => ['fail', 'fail?', 'noaddr', 'handshake'].includes(f));
const liveMasters = (view: NodeLine[]): NodeLine[] =>
  view.filter((n) => n.flags.includes('master') && n.hasSlots && !failing(n));
const liveReplica = (view: NodeLine[], master: NodeLine): NodeLine | undefined =>
  view.find((n) => n.flags.includes('slave') && n.masterId === master.id && !failing(n));

// Whole: every node serves every slot and knows all six, every replica has synced from its master (one that has not
// cannot take over), and every node sees three masters with a live replica each (a node back from a crash still
// believes it is a master until it hears otherwise).
async function whole(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const info = parseInfo(await nodeCommand(port, 'CLUSTER', 'INFO'));
    const replication = parseInfo(await nodeCommand(port, 'INFO', 'replication'));
    const fine =
      info.cluster_state === 'ok' &&
      info.cluster_slots_ok === String(SLOTS) &&
      info.cluster_known_nodes === String(SIZE) &&
      (replication.role === 'master' || replication.master_link_status === 'up');
    if (!fine) return false;
    const view = parseNodes(await nodeCommand(port, 'CLUSTER', 'NODES'));
    const masters = liveMasters(view);
    if (masters.length !== SIZE / 2 || !masters.every((m) => liveReplica(view, m))) return false;
  }
  return true;
}

// The cluster as the node with the highest epoch sees it: a failover raises the epoch, so a node that has not
// heard of the latest one (or just came back) is not asked.
async function currentView(ports: number[]): Promise<NodeLine[]> {
  let best: { epoch: number; view: NodeLine[] } | undefined;
  for (const port of ports) {
    try {
      const epoch = Number(parseInfo(await nodeCommand(port, 'CLUSTER', 'INFO')).cluster_current_epoch);
      if (best && epoch <= best.epoch) continue;
      best = { epoch, view: parseNodes(await nodeCommand(port, 'CLUSTER', 'NODES')) };
    } catch {
      // this node is down
    }
  }
  if (!best) throw new Error(`no node of the Redis Cluster answers (ports ${ports[0]}..${ports.at(-1)})`);
  return best.view;
}

const pidOf = (dir: string, port: number): number | undefined => {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(nodeDir(dir, port), 'redis.pid'), 'utf8'), 10);
  } catch {
    return undefined; // never started, or shut down cleanly (redis-server removes its pid file)
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A pid file left by a crash may name a recycled pid: redis-server titles itself "redis-server 127.0.0.1:<port>".
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${HOST}:${port}`) ? pid : undefined;
  } catch {
    return pid; // no /proc (not Linux): trust the pid file
  }
};

async function startNode(dir: string, port: number): Promise<void> {
  const d = nodeDir(dir, port);
  await fsp.mkdir(d, { recursive: true });
  // nodes.conf is relative to --dir: each node keeps its own.
  await runCommand(
    'redis-server',
    [
      ['--port', String(port)],
      ['--bind', HOST],
      ['--cluster-enabled', 'yes'],
      ['--cluster-config-file', 'nodes.conf'],
      ['--cluster-node-timeout', String(NODE_TIMEOUT_MS)],
      ['--save', ''],
      ['--appendonly', 'no'],
      // A replica's first sync starts at once, not after Redis' default 5 s wait for more replicas to come along.
      ['--repl-diskless-sync-delay', '0'],
      ['--daemonize', 'yes'],
      ['--dir', d],
      ['--logfile', join(d, 'redis.log')],
      ['--pidfile', join(d, 'redis.pid')],
    ].flat(),
    { timeoutMs: 10_000 },
  );
}

async function stopNode(dir: string, port: number, crash = false): Promise<void> {
  const pid = pidOf(dir, port);
  if (pid === undefined) return; // already down
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  };
  // SHUTDOWN's only answer is the connection closing.
  if (crash) signal('SIGKILL');
  else await nodeCommand(port, 'SHUTDOWN', 'NOSAVE').catch(() => undefined);
  const exited = (): Promise<boolean> =>
    waitFor(async () => !isAlive(pid), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: `redis-server pid ${pid} (port ${port}) to exit`,
    });
  await exited().catch(() => {
    signal('SIGTERM');
    return exited();
  });
}

const waitWhole = (ports: number[], timeoutMs: number): Promise<boolean> =>
  waitFor(() => whole(ports), {
    timeoutMs,
    intervalMs: 200,
    what: `the Redis Cluster on ports ${ports[0]}..${ports.at(-1)} (every slot served, three masters with a replica each)`,
  });

// Nodes that cannot be resumed are emptied and forgotten (their data is throwaway: nothing is persisted).
async function resetNodes(ports: number[]): Promise<void> {
  for (const port of ports) {
    await nodeCommand(port, 'FLUSHALL').catch(() => undefined); // a replica refuses it; RESET flushes a replica
    await nodeCommand(port, 'CLUSTER', 'RESET', 'HARD');
  }
}

async function failureDetail(dir: string, ports: number[]): Promise<string> {
  const tails = await Promise.all(ports.map((p) => tailFile(join(nodeDir(dir, p), 'redis.log'), 5)));
  return tails.map((t, i) => (t ? `\n--- ${ports[i]}/redis.log\n${t}` : '')).join('');
}

export async function ensureRedisCluster(opts: RedisClusterOptions): Promise<RedisCluster> {
  const { log } = opts;
  const basePort = opts.basePort ?? 7001;
  const dir = clusterDir(opts.stackDir, opts.dirName);
  const nodes = redisClusterNodes(basePort);
  const ports = nodes.map((_, i) => basePort + i);
  const cluster: RedisCluster = {
    started: false,
    nodes,
    nodesEnv: nodes.join(','),
    pidOf: (port) => pidOf(dir, port),
    masters: async () =>
      liveMasters(await currentView(ports))
        .map((m) => ({ port: m.port, pid: pidOf(dir, m.port) }))
        .sort((a, b) => a.port - b.port),
    replicaOf: async (masterPort) => {
      const view = await currentView(ports);
      const master = liveMasters(view).find((m) => m.port === masterPort);
      return master && liveReplica(view, master)?.port;
    },
    crashNode: (port) => stopNode(dir, port, true),
    restartNode: async (port) => {
      if (pidOf(dir, port) === undefined) await startNode(dir, port);
      await waitWhole(ports, READY_TIMEOUT_MS);
    },
    stop: () => stopRedisCluster(opts.stackDir, opts.dirName),
  };
  if (await whole(ports).catch(() => false)) {
    log(`redis cluster: reusing ${cluster.nodesEnv}`);
    return cluster;
  }
  for (const cmd of ['redis-server', 'redis-cli']) {
    if (!(await commandExists(cmd)))
      throw new Error(
        `Cannot start a Redis Cluster: \`${cmd}\` is not on PATH (Redis 7: apt-get install redis-server)`,
      );
  }
  const t0 = Date.now();
  const running = ports.map((p) => pidOf(dir, p) !== undefined);
  // Only a complete set of nodes.conf describes one cluster; any other leftovers are wiped and it is created anew.
  const resumable = ports.every((p, i) => running[i] || existsSync(join(nodeDir(dir, p), 'nodes.conf')));
  for (const [i, port] of ports.entries()) {
    if (running[i]) continue;
    if (!resumable) await fsp.rm(join(nodeDir(dir, port), 'nodes.conf'), { force: true });
    await startNode(dir, port);
    cluster.started = true;
  }
  try {
    const infos = await waitFor(
      async () => Promise.all(ports.map(async (p) => parseInfo(await nodeCommand(p, 'CLUSTER', 'INFO')))),
      {
        timeoutMs: READY_TIMEOUT_MS,
        intervalMs: 100,
        what: `redis-server on ports ${ports[0]}..${ports.at(-1)}`,
      },
    );
    const blank = infos.map((i) => i.cluster_known_nodes === '1' && i.cluster_slots_assigned === '0');
    // Resumed: every node came back with a cluster it knew (from nodes.conf, or it never stopped).
    const resumed = !blank.some(Boolean) && (await waitWhole(ports, RESUME_TIMEOUT_MS).catch(() => false));
    if (!resumed) {
      if (!blank.every(Boolean)) {
        log(`redis cluster: the nodes in ${dir} do not form one cluster; creating it anew`);
        await resetNodes(ports);
      }
      await runCommand(
        'redis-cli',
        ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'],
        { timeoutMs: 60_000 },
      );
      await waitWhole(ports, READY_TIMEOUT_MS);
    }
  } catch (err) {
    throw new Error(`${errorMessage(err)}${await failureDetail(dir, ports)}`);
  }
  log(
    `redis cluster: ready at ${cluster.nodesEnv} after ${((Date.now() - t0) / 1000).toFixed(1)}s (logs in ${dir})`,
  );
  return cluster;
}

/** Shuts down every node of the cluster in <stackDir>/<dirName>; nodes already down are skipped. */
export async function stopRedisCluster(stackDir: string, dirName?: string): Promise<void> {
  const dir = clusterDir(stackDir, dirName);
  const entries = await fsp.readdir(dir).catch(() => [] as string[]);
  const ports = entries.filter((e) => /^\d+$/.test(e)).map(Number);
  await Promise.all(ports.map((port) => stopNode(dir, port)));
}
