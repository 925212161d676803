import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { isPortOpen, waitFor } from '@keygate/stack';
import { freeTestPort } from './test-stack';

export interface PrivateRedis {
  port: number;
  // A client of this server (closed by stop()).
  connect(): Redis;
  stop(): void;
}

// A redis-server of a test's own on a free port, without persistence: for a test that needs a Redis nobody else
// writes to (the shared test db carries every run's keys).
export const privateRedis = async (): Promise<PrivateRedis> => {
  const port = await freeTestPort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await waitFor(() => isPortOpen('127.0.0.1', port), { timeoutMs: 10_000, intervalMs: 50, what: 'redis' });
  const clients: Redis[] = [];
  return {
    port,
    connect: () => {
      const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      clients.push(client);
      return client;
    },
    stop: () => {
      clients.forEach((c) => c.disconnect());
      server.kill('SIGKILL');
    },
  };
};
