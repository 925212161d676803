import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '@keygate/testing';
import { answerWithin } from './answer-within';

// The process is starved (a busy loop stands for a machine whose cores are taken) while a real Redis answers: the
// answer counts. A Redis that never answers (a listener that accepts and stays silent) is still given up on time.
describe('answerWithin (real Redis)', () => {
  let redis: Redis;
  let silent: Server;
  const accepted: Socket[] = [];
  let hung: Redis;
  const starve = (ms: number): void => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    silent = createServer((socket) => void accepted.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    hung = new Redis(port, '127.0.0.1', { enableReadyCheck: false, maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  afterAll(async () => {
    redis.disconnect();
    hung.disconnect();
    accepted.forEach((s) => s.destroy());
    await new Promise((r) => silent.close(r));
  });

  it('takes an answer that arrived while the process could not run, one round trip or two', async () => {
    const one = answerWithin(redis.ping(), 50);
    starve(300);
    await expect(one).resolves.toBe('PONG');

    const two = answerWithin(
      (async () => {
        await redis.ping();
        return redis.echo('second');
      })(),
      50,
    );
    starve(300);
    await expect(two).resolves.toBe('second');
  });

  it('gives up on a Redis that does not answer, after the window (and one more when the process was starved)', async () => {
    let started = Date.now();
    await expect(answerWithin(hung.get('k'), 100)).rejects.toThrow('no answer within 100 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(Date.now() - started).toBeLessThan(1_000);

    started = Date.now();
    const late = answerWithin(hung.get('k'), 100);
    starve(300);
    await expect(late).rejects.toThrow('no answer within 100 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(395);
  });

  it('passes a failure through as it is', async () => {
    await expect(answerWithin(redis.call('NO-SUCH-COMMAND'), 100)).rejects.toThrow(/unknown command/i);
  });
});
