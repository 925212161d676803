import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { newId, type RequestCompletedData, type Topic } from '@keygate/contracts';
import { createKafka, EventProducer, type EventSender, type OutgoingEvent } from '@keygate/messaging';
import { metricsText } from '@keygate/platform';
import { ensureTopics } from '@keygate/stack';
import { UsageEmitter } from './usage-emitter';

// The emitter against the real broker, on a topic of this file's own. Kafka "away" is a sender that refuses while
// a flag is up (the broker itself stays up for everyone else); every send that goes through is a real produce.
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'usage-emitter-test', brokers, logLevel: logLevel.NOTHING });
const topic = `kg-test-usage-${randomBytes(4).toString('hex')}` as Topic;
const dirs: string[] = [];
const emitters: UsageEmitter[] = [];

class FlakySender implements EventSender {
  away = true;
  sends = 0;
  private readonly real = new EventProducer(createKafka('usage-emitter-test', brokers));
  get isConnected(): boolean {
    return this.real.isConnected;
  }
  connect = () => this.real.connect();
  disconnect = () => this.real.disconnect();
  async send(t: Topic, events: OutgoingEvent[]): Promise<void> {
    this.sends++;
    if (this.away) throw new Error('Kafka unreachable (test)');
    await this.real.send(t, events);
  }
}

const request = (keyId: string): RequestCompletedData => ({
  requestId: newId('req'),
  keyId,
  route: 'gpt-4o-mini',
  provider: 'openai-main',
  upstreamModel: 'gpt-4o-mini',
  endpoint: 'chat',
  status: 200,
  outcome: 'success',
  errorCode: null,
  promptTokens: 10,
  completionTokens: 20,
  streamed: false,
  latencyMs: 3,
  clientIp: '127.0.0.1',
  time: new Date().toISOString(),
});

const emitter = (sender: EventSender, o: { maxBuffered: number; journalMaxBytes?: number; dir?: string }) => {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'kg-usage-journal-'));
  dirs.push(dir);
  const e = new UsageEmitter(sender, {
    maxBuffered: o.maxBuffered,
    flushMs: 60_000, // the test flushes
    journalDir: dir,
    journalMaxBytes: o.journalMaxBytes ?? 1 << 20,
    topic,
  });
  emitters.push(e);
  return { emitter: e, dir };
};

const gaugeValue = async (name: string): Promise<number> => {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
};

// Every RequestCompleted on the topic for `keyId`, by request id → how many times it arrived.
const delivered = async (keyId: string, expected: number): Promise<Map<string, number>> => {
  const counts = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `usage-emitter-test-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let total = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const env = JSON.parse(message.value!.toString()) as { data: RequestCompletedData };
        if (env.data.keyId !== keyId) return;
        counts.set(env.data.requestId, (counts.get(env.data.requestId) ?? 0) + 1);
        if (++total >= expected) resolve();
      },
    });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, 1_000)); // a late duplicate would show now
  await consumer.disconnect();
  return counts;
};

const flushUntilEmpty = async (e: UsageEmitter): Promise<void> => {
  for (let i = 0; i < 100 && (await gaugeValue('keygate_usage_journal_depth')) > 0; i++) await e.flush();
  await e.flush();
};

beforeAll(() => ensureTopics(brokers, [{ topic, numPartitions: 3 }]));
afterAll(async () => {
  for (const e of emitters) await e.onApplicationShutdown().catch(() => undefined);
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('usage events while Kafka is away', () => {
  it('spills what the buffer cannot hold to the journal and replays it once Kafka is back, each event once', async () => {
    const sender = new FlakySender();
    const { emitter: e } = emitter(sender, { maxBuffered: 50, journalMaxBytes: 8 << 20 });
    const keyId = newId('key');
    const sentIds: string[] = [];
    for (let i = 0; i < 2_500; i++) {
      expect(e.admit()).toBe(true);
      const r = request(keyId);
      sentIds.push(r.requestId);
      e.emit(r);
      if (i % 500 === 0) await e.flush(); // fails: Kafka is away
    }
    expect(sender.sends).toBeGreaterThan(0);
    expect(await gaugeValue('keygate_usage_buffer_depth')).toBe(50);
    expect(await gaugeValue('keygate_usage_journal_depth')).toBe(2_450);
    expect(await gaugeValue('keygate_usage_journal_bytes')).toBeGreaterThan(2_450 * 300);

    sender.away = false;
    await flushUntilEmpty(e);
    expect(await gaugeValue('keygate_usage_journal_depth')).toBe(0);
    expect(await gaugeValue('keygate_usage_journal_bytes')).toBe(0);
    expect(await gaugeValue('keygate_usage_buffer_depth')).toBe(0);

    const counts = await delivered(keyId, sentIds.length);
    expect([...counts.keys()].sort()).toEqual([...sentIds].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('refuses new work only when the journal is full too, keeps every admitted event, and admits again once drained', async () => {
    const sender = new FlakySender();
    // 10 in memory + 64 KiB of journal at 4 KiB held per admitted request: 26 requests may be in flight at once.
    const { emitter: e } = emitter(sender, { maxBuffered: 10, journalMaxBytes: 64 * 1024 });
    const keyId = newId('key');
    const emitted: string[] = [];
    const admitted: RequestCompletedData[] = [];
    while (e.admit()) admitted.push(request(keyId));
    expect(admitted).toHaveLength(26);
    // Each admitted request finishes (its event is kept, memory first, then the journal); room comes back only as
    // far as the actual lines are smaller than what was held.
    for (const r of admitted) {
      e.emit(r);
      emitted.push(r.requestId);
    }
    for (;;) {
      await e.flush();
      if (!e.admit()) break;
      const r = request(keyId);
      e.emit(r);
      emitted.push(r.requestId);
    }
    expect(e.admit()).toBe(false);
    expect(await gaugeValue('keygate_usage_journal_bytes')).toBeGreaterThan(60 * 1024);

    sender.away = false;
    await flushUntilEmpty(e);
    expect(e.admit()).toBe(true);
    e.emit(request(keyId));
    await e.flush();

    const counts = await delivered(keyId, emitted.length + 1);
    expect(counts.size).toBe(emitted.length + 1);
    for (const id of emitted) expect(counts.get(id)).toBe(1);
  });

  it('journals what a shutdown could not send; the next process replays it', async () => {
    const first = new FlakySender();
    const { emitter: before, dir } = emitter(first, { maxBuffered: 1_000 });
    const keyId = newId('key');
    const ids = Array.from({ length: 30 }, () => {
      const r = request(keyId);
      before.admit();
      before.emit(r);
      return r.requestId;
    });
    await before.onApplicationShutdown();

    const second = new FlakySender();
    second.away = false;
    const { emitter: after } = emitter(second, { maxBuffered: 1_000, dir });
    expect(await gaugeValue('keygate_usage_journal_depth')).toBe(30);
    await flushUntilEmpty(after);
    const counts = await delivered(keyId, ids.length);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('usage events in batches', () => {
  it("sends a whole send's worth at once, without its timer; while Kafka refuses, only the timer tries again", async () => {
    const sender = new FlakySender();
    sender.away = false;
    const { emitter: e } = emitter(sender, { maxBuffered: 5_000 });
    const keyId = newId('key');
    const ids: string[] = [];
    const emit = (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = request(keyId);
        e.admit();
        e.emit(r);
        ids.push(r.requestId);
      }
    };
    emit(999);
    expect(sender.sends).toBe(0); // the timer's (a minute away) to send
    emit(1);
    expect(sender.sends).toBe(1);
    await e.flush();
    expect(await gaugeValue('keygate_usage_buffer_depth')).toBe(0);

    sender.away = true;
    emit(1_000);
    expect(sender.sends).toBe(2);
    await e.flush(); // that send, refused
    expect(sender.sends).toBe(2);
    await e.flush(); // the timer's try: refused as well
    expect(sender.sends).toBe(3);
    emit(500); // a full batch waits, but no send is tried for each event while Kafka refuses
    expect(sender.sends).toBe(3);
    expect(await gaugeValue('keygate_usage_buffer_depth')).toBe(1_500);

    sender.away = false;
    await e.flush();
    expect(await gaugeValue('keygate_usage_buffer_depth')).toBe(0);
    const counts = await delivered(keyId, ids.length);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
