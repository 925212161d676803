import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Relative imports: the faults global setup loads this file without jest's module mapper.
import { TopicSpecs } from '../../../libs/contracts/src/topics';
import { ensureKafka, ensureTopics, runCommand, stopKafka } from '../../../libs/stack/src';
import { freeTestPort, STACK_DIR } from '../../../libs/testing/src/stack/test-stack';

// Private instances of the infrastructure, on their own ports and directories, that a fault test may stop and
// start at will. The shared broker (127.0.0.1:9092), the shared Redis and the machine's PostgreSQL are never
// touched: other engineers' runs depend on them.

const log = (m: string): void => void process.stdout.write(`[faults] ${m}\n`);

export interface PrivateKafka {
  brokers: string[];
  start(): Promise<void>;
  /** SIGTERM (clean shutdown), or SIGKILL of the JVM's process group for a crash. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

// A single-node KRaft broker from the jars the shared one uses, with its own data dir; the topics of
// libs/contracts are created on it.
export const startPrivateKafka = async (): Promise<PrivateKafka> => {
  const [port, controllerPort] = [await freeTestPort(), await freeTestPort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'kg-fault-kafka-'));
  const brokers = [`127.0.0.1:${port}`];
  const options = { brokers, stackDir: STACK_DIR, port, controllerPort, dataDir, log };
  const start = async () => {
    await ensureKafka(options);
  };
  await start();
  await ensureTopics(brokers, TopicSpecs);
  return {
    brokers,
    start,
    stop: async () => {
      await stopKafka(STACK_DIR, dataDir);
    },
    destroy: async () => {
      await stopKafka(STACK_DIR, dataDir).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port> (append /<database>). */
  server: string;
  start(): Promise<void>;
  /** pg_ctl stop: 'fast' (clients disconnected, clean) or 'immediate' (a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

// initdb refuses root: as root the cluster belongs to the postgres OS user.
const asPostgres = (cmd: string, args: string[]) =>
  process.getuid?.() === 0
    ? runCommand('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { timeoutMs: 60_000 })
    : runCommand(join(PG_BIN, cmd), args, { timeoutMs: 60_000 });

// A throwaway PostgreSQL cluster (trust auth, socket in /tmp) that the test can stop like an outage.
export const startPrivatePostgres = async (): Promise<PrivatePostgres> => {
  const port = await freeTestPort();
  const dir = mkdtempSync(join(tmpdir(), 'kg-fault-pg-'));
  if (process.getuid?.() === 0) {
    const { stdout } = await runCommand('id', ['-u', 'postgres']);
    const { stdout: gid } = await runCommand('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const start = async () => {
    await asPostgres('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200`,
      'start',
    ]);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
  };
  await start();
  return {
    server: `postgres://postgres@127.0.0.1:${port}`,
    start,
    stop,
    destroy: async () => {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
