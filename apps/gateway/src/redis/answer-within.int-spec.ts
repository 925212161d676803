import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '@keygate/testing';
import { answerWithin, PATIENCE } from './answer-within';

// The process is starved (a busy loop stands for a machine whose cores are taken) while a real Redis answers: the
// answer counts. A Redis that never answers (a listener that accepts and stays silent) is still given up on time. A
// call answered late while Redis answers the process's other calls (a Redis slowed by load) is waited for, up to
// PATIENCE windows.
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

  // Other calls answered every 20 ms meanwhile, as a loaded gateway's are.
  const whileAnswering = async <T>(call: Promise<T>): Promise<T> => {
    const others = setInterval(() => void answerWithin(redis.ping(), 1_000).catch(() => undefined), 20);
    try {
      return await call;
    } finally {
      clearInterval(others);
    }
  };

  it('waits for a call Redis answers late while it answers others, and only then', async () => {
    const queue = `answer-within:${Date.now()}`;
    const blocked = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      // Answered after 300 ms (three windows): BLPOP returns when the list is pushed to.
      const answeredLate = () => {
        const call = blocked.blpop(queue, 0);
        setTimeout(() => void redis.lpush(queue, 'late'), 300);
        return call;
      };
      const started = Date.now();
      await expect(whileAnswering(answerWithin(answeredLate(), 100))).resolves.toEqual([queue, 'late']);
      expect(Date.now() - started).toBeGreaterThanOrEqual(295);

      // The same late answer while Redis answers nothing else: given up after one window of silence.
      await new Promise((r) => setTimeout(r, 200));
      const alone = answerWithin(answeredLate(), 100);
      await expect(alone).rejects.toThrow('no answer within 100 ms');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      blocked.disconnect();
    }
  });

  it('gives up on a call never answered after PATIENCE windows, though Redis answers others', async () => {
    const started = Date.now();
    await expect(whileAnswering(answerWithin(hung.get('k'), 100))).rejects.toThrow('no answer within 100 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(PATIENCE * 100 - 5);
    expect(Date.now() - started).toBeLessThan(PATIENCE * 100 + 500);
  });

  it('passes a failure through as it is', async () => {
    await expect(answerWithin(redis.call('NO-SUCH-COMMAND'), 100)).rejects.toThrow(/unknown command/i);
  });
});
