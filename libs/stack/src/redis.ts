import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import Redis, { ReplyError } from 'ioredis';
import {
  commandExists,
  errorMessage,
  type InfraLog,
  isLocalHost,
  redactUrl,
  runCommand,
  waitFor,
} from './wait';

export interface EnsureRedisResult {
  /** true when we started a local redis-server. */
  started: boolean;
}

const START_TIMEOUT_MS = 15_000;

async function pingRedis(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  // Without a listener ioredis prints "Unhandled error event"; the event also has the real cause
  // (ECONNREFUSED...), where connect() only rejects with "Connection is closed.".
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause = err));
  try {
    await client.connect();
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`unexpected PING reply ${reply}`);
  } catch (err) {
    throw err instanceof ReplyError || !cause ? err : cause;
  } finally {
    client.disconnect();
  }
}

/**
 * Makes sure Redis answers PING at `url`; starts a throwaway local redis-server (no persistence) when a
 * local URL does not answer. `stackDir`, when given, receives its log file and working directory.
 */
export async function ensureRedis(url: string, log: InfraLog, stackDir?: string): Promise<EnsureRedisResult> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`Invalid Redis URL: ${redactUrl(url)}`);
  }
  const where = `${u.hostname || '127.0.0.1'}:${u.port || '6379'}`;
  try {
    await pingRedis(url);
    return { started: false };
  } catch (err) {
    // A reply error (NOAUTH, WRONGPASS...) means Redis is there and misconfigured: starting another will not help.
    if (err instanceof ReplyError) throw new Error(`Redis at ${where} refused us: ${errorMessage(err)}`);
    if (u.protocol !== 'redis:' || !isLocalHost(u.hostname.replace(/^\[|\]$/g, ''))) {
      throw new Error(`Redis at ${redactUrl(url)} does not answer: ${errorMessage(err)}`);
    }
    if (!(await commandExists('redis-server'))) {
      throw new Error(
        `Redis at ${where} does not answer (${errorMessage(err)}) and redis-server is not installed`,
      );
    }
    log(`redis: ${where} does not answer (${errorMessage(err)}); starting redis-server`);
  }

  const args = [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    u.port || '6379',
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  if (stackDir) {
    const dir = join(stackDir, 'redis');
    await fsp.mkdir(dir, { recursive: true });
    args.push('--dir', dir, '--logfile', join(dir, 'redis.log'));
  }
  await runCommand('redis-server', args, { timeoutMs: 10_000 });
  await waitFor(
    async () => {
      await pingRedis(url);
      return true;
    },
    { timeoutMs: START_TIMEOUT_MS, intervalMs: 250, what: `Redis at ${where}` },
  );
  log(`redis: started redis-server on ${where}`);
  return { started: true };
}
