import { context, type Context } from '@opentelemetry/api';
import type { Consumer, Kafka } from 'kafkajs';
import { isEnvelope, topicConfig, type EventEnvelope, type Topic } from '@keygate/contracts';
import { assertTopicConfig } from './topic-config';
import { extractTraceContext } from './trace-context';

export interface IncomingEvent {
  envelope: EventEnvelope;
  partition: number;
  offset: string;
  trace: Context;
}

export interface ConsumerOptions {
  groupId: string;
  topics: Topic[];
  fromBeginning?: boolean;
  // Handles one batch; resolves only when its effects are durable. Offsets are committed after that.
  handle: (events: IncomingEvent[]) => Promise<void>;
  // A message that is not an envelope cannot be processed ever: it is reported and skipped, the stream goes on.
  onMalformed?: (
    raw: string | null,
    reason: string,
    meta: { topic: string; partition: number; offset: string },
  ) => Promise<void> | void;
  sessionTimeout?: number;
  maxBytesPerPartition?: number;
  // Longest wait between retries of a failed batch (its store away): how late the stream resumes once the store
  // is back. 5 s by default.
  maxRetryTimeMs?: number;
  // Batches of different partitions handled at once (kafkajs partitionsConsumedConcurrently); the handler must
  // then be safe to run concurrently for disjoint partitions. Order within a partition is kept either way.
  partitionsConcurrently?: number;
}

// The one consumer wrapper: batches, JSON envelopes, trace context, commit-after-handle (at-least-once;
// handlers are idempotent by event id / stream position).
export class EventConsumer {
  private consumer?: Consumer;
  private lag = new Map<string, number>();
  private stopped = false;
  private restartTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;

  constructor(private readonly kafka: Kafka) {}

  get lagByPartition(): ReadonlyMap<string, number> {
    return this.lag;
  }

  async start(options: ConsumerOptions): Promise<void> {
    // A consumer of keys.events folds it from offset 0: it refuses a topic that does not keep every event
    // (TopicConfigError), before it joins its group.
    for (const topic of options.topics) await assertTopicConfig(this.kafka, topic, topicConfig(topic));
    const sessionTimeout = options.sessionTimeout ?? 10000;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout,
      heartbeatInterval: 1000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      // kafkajs fetches each partition from the leader its metadata names and refreshes that metadata only every
      // metadataMaxAge (5 min by default): after a broker of a cluster died, partitions it led could be fetched from
      // nowhere for minutes. Refreshed every 10 s (one small request), they find their new leaders sooner.
      metadataMaxAge: 10_000,
      allowAutoTopicCreation: false,
      retry: {
        retries: Number.MAX_SAFE_INTEGER,
        initialRetryTime: 300,
        maxRetryTime: options.maxRetryTimeMs ?? 5000,
      },
    });
    this.consumer = consumer;
    this.stopped = false;
    // kafkajs restarts a crashed consumer only after errors it deems retriable. An error thrown by the handler (its
    // store went away mid-batch, e.g. Redis for the gateway projection) is not one: the consumer would leave its
    // group for good and the projection or ledger silently stop. Restart it here; the failed batch was not
    // committed, so it is delivered again.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopped || this.consumer !== consumer) return;
      this.scheduleRestart(consumer, options, 1);
    });
    this.watchMembership(consumer, options, sessionTimeout);
    await consumer.connect();
    await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: options.partitionsConcurrently ?? 1,
      eachBatchAutoResolve: false,
      eachBatch: async ({
        batch,
        resolveOffset,
        heartbeat,
        commitOffsetsIfNecessary,
        isRunning,
        isStale,
      }) => {
        const events: IncomingEvent[] = [];
        for (const message of batch.messages) {
          const raw = message.value?.toString('utf8') ?? null;
          let parsed: unknown;
          try {
            parsed = raw === null ? null : JSON.parse(raw);
          } catch {
            parsed = undefined;
          }
          if (isEnvelope(parsed)) {
            events.push({
              envelope: parsed,
              partition: batch.partition,
              offset: message.offset,
              trace: extractTraceContext(message.headers),
            });
          } else {
            await options.onMalformed?.(raw, parsed === undefined ? 'not JSON' : 'not an event envelope', {
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
            });
          }
        }
        if (!isRunning() || isStale()) return;
        if (events.length > 0) await options.handle(events);
        const last = batch.messages[batch.messages.length - 1];
        if (last) resolveOffset(last.offset);
        // Committed only after the handler's effects are durable: a crash re-delivers, never skips.
        // One attempt, not consumer.commitOffsets: that one retries with `retry` below (for ever) and kafkajs's
        // offset manager keeps sending to the coordinator it was given at the last join, which answers
        // NOT_COORDINATOR_FOR_GROUP for ever once the group has moved (a broker of the cluster died and came back;
        // kafkajs#1779). Thrown out of the batch instead, NOT_COORDINATOR_FOR_GROUP makes kafkajs rejoin, which
        // asks who the coordinator is now; any other failure is retried with the next batch's commit.
        await commitOffsetsIfNecessary({
          topics: [
            {
              topic: batch.topic,
              partitions: [
                { partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
              ],
            },
          ],
        });
        this.lag.set(
          `${batch.topic}:${batch.partition}`,
          Number(BigInt(batch.highWatermark) - BigInt(batch.lastOffset()) - 1n),
        );
        await heartbeat();
      },
    });
  }

  // kafkajs heartbeats and commits to the group coordinator it found at the last join. When that broker dies, every
  // heartbeat fails with a connection error, which kafkajs retries (for ever, with our `retry`) against the same dead
  // node: it never asks who coordinates the group now, and the consumer stands still until that very node is back.
  // A member that has not heartbeated for a session timeout has been dropped from its group anyway: it starts
  // again, joins through the new coordinator, and goes on from the committed offsets (re-deliveries are skipped).
  private watchMembership(consumer: Consumer, options: ConsumerOptions, sessionTimeout: number): void {
    clearInterval(this.watchdog);
    let alive = Date.now();
    const touch = (): void => void (alive = Date.now());
    consumer.on(consumer.events.GROUP_JOIN, touch);
    consumer.on(consumer.events.HEARTBEAT, touch);
    consumer.on(consumer.events.COMMIT_OFFSETS, touch);
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => void (joined = true));
    this.watchdog = setInterval(() => {
      if (!joined || this.stopped || this.consumer !== consumer) return;
      const silent = Date.now() - alive;
      if (silent < sessionTimeout) return;
      clearInterval(this.watchdog);
      this.kafka
        .logger()
        .warn(`consumer ${options.groupId}: no heartbeat for ${silent} ms (coordinator gone?): rejoining`);
      this.scheduleRestart(consumer, options, 0);
    }, 1_000);
    this.watchdog.unref();
  }

  private scheduleRestart(crashed: Consumer, options: ConsumerOptions, attempt: number): void {
    const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
    this.restartTimer = setTimeout(() => {
      if (this.stopped || this.consumer !== crashed) return;
      void crashed
        .disconnect()
        .catch(() => undefined)
        .then(() => this.start(options))
        .catch(() => {
          if (this.consumer) this.scheduleRestart(this.consumer, options, attempt + 1);
        });
    }, delay);
    this.restartTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    await this.consumer?.disconnect();
  }
}

export const withTrace = <T>(ctx: Context, fn: () => T): T => context.with(ctx, fn);
