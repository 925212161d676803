import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
// Relative imports: the fault suite's global set-up loads this file without jest's module mapper.
import { waitFor } from '../../../stack/src/wait';
import { freeTestPort } from './test-stack';

export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that hangs instead of refusing connections. */
  freeze(frozen: boolean): void;
  // A client of this server (disconnected by destroy()).
  connect(): Redis;
  destroy(): Promise<void>;
}

const portAnswers = async (port: number): Promise<boolean> =>
  fetch(`http://127.0.0.1:${port}`).then(
    () => true,
    (e: { cause?: { code?: string } }) => e.cause?.code !== 'ECONNREFUSED',
  );

// A redis-server of a test's own, on a free port: for a test that stops and starts it (an outage) or needs a Redis
// nobody else writes to (the shared test database carries every run's keys). An fsync-always append-only file in
// a directory of its own, so a restart comes back with what it had.
export const privateRedis = async (): Promise<PrivateRedis> => {
  const port = await freeTestPort();
  const dir = mkdtempSync(join(tmpdir(), 'kg-redis-'));
  const clients: Redis[] = [];
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    );
    await waitFor(() => portAnswers(port), { timeoutMs: 10_000, intervalMs: 50, what: `redis on ${port}` });
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    start,
    stop,
    freeze: (frozen) => void child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT'),
    connect: () => {
      const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      clients.push(client);
      return client;
    },
    destroy: async () => {
      clients.forEach((c) => c.disconnect());
      child?.kill('SIGCONT');
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
