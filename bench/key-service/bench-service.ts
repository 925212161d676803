import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { dropDatabase, ensurePostgres, waitFor } from '@keygate/stack';
import {
  ensureTestInfra,
  freeTestPort,
  KAFKA_BROKERS,
  ROOT,
  stopTestInfra,
} from '@keygate/testing/stack/test-stack';

// A key-service of the bench's own: the built dist/ service as a process, on free ports, with a throwaway
// database, so the figures do not depend on (or disturb) a running `npm run up` stack or a test run.

export const REPO_ROOT = ROOT; // the repository root, from bench/ or dist/bench/

export interface BenchService {
  pid: number;
  url: string;
  adminToken: string;
  databaseUrl: string;
  logFile: string;
  stop(): Promise<void>;
}

const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

export const startBenchService = async (run: string, logLevel: string): Promise<BenchService> => {
  await ensureTestInfra(); // Kafka, PostgreSQL, Redis answer and the topics exist (Kafka started only if none)
  const [httpPort, grpcPort] = await Promise.all([freeTestPort(), freeTestPort()]);
  const databaseUrl = `${PG}/keygate_keys_bench_${run}`;
  await ensurePostgres([databaseUrl], () => undefined);
  const logDir = join(REPO_ROOT, '.stack', `bench-key-service-${run}`);
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, 'key-service.log');
  const adminToken = `kgadm_bench_${randomBytes(16).toString('hex')}`;
  const url = `http://127.0.0.1:${httpPort}`;

  // e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=.stack/prof" profiles the service alone
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const main = join(REPO_ROOT, 'dist', 'apps', 'key-service', 'src', 'main.js');
  const child = spawn(process.execPath, [...nodeArgs, main], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: logLevel,
      ADMIN_TOKEN: adminToken,
      KEYGATE_MASTER_KEY: randomBytes(32).toString('base64'),
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      KEYS_DATABASE_URL: databaseUrl,
      KEY_SERVICE_HTTP_PORT: String(httpPort),
      KEY_SERVICE_GRPC_PORT: String(grpcPort),
    },
    stdio: ['ignore', openSync(logFile, 'w'), openSync(logFile, 'a')],
    detached: true,
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 15_000);
      await exited;
      clearTimeout(killer);
    }
    await dropDatabase(databaseUrl).catch(() => undefined);
    await stopTestInfra();
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`key-service exited (${child.exitCode}); see ${logFile}`);
        return (await fetch(`${url}/health/ready`).catch(() => null))?.ok ?? false;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `key-service ready at ${url}` },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: child.pid!, url, adminToken, databaseUrl, logFile, stop };
};
