import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SpanKind, trace } from '@opentelemetry/api';
import { Topics } from '@keygate/contracts';
import { EventConsumer, foldBatch, withTrace, type FoldResult, type IncomingEvent } from '@keygate/messaging';
import { counter, gauge } from '@keygate/platform';
import {
  evolveCredential,
  evolveGroup,
  evolveKey,
  type CredentialDocument,
  type GroupDocument,
  type KeyDocument,
} from './key-document';
import {
  isRebuildingError,
  KeyProjectionStore,
  type ChangeNotice,
  type CommitMode,
  type ProjectionWrite,
} from './key-projection.store';

const applied = counter('keygate_projection_events_total', 'Key events applied to the Redis projection', [
  'result',
]);
const lagGauge = gauge(
  'keygate_projection_lag_seconds',
  'Age of the last key event applied to the projection',
);
const tracer = trace.getTracer('keygate-gateway');
// A refused live batch waits this long for a replay to end (under the consumer's 10 s session timeout).
const REFUSED_WAIT_MS = 5_000;
const SERVING_POLL_MS = 100;

interface Projection {
  apiKey: KeyDocument;
  group: GroupDocument;
  providerCredential: CredentialDocument;
}

export const evolvers = {
  apiKey: evolveKey,
  group: evolveGroup,
  providerCredential: evolveCredential,
};

// What one folded batch writes: the changed documents, the hash entries of new secrets (a rotated-out one lingers
// until a day after its grace period), and one change notice per event for every instance's cache.
export const projectionWrite = ({ changed, applied: events }: FoldResult<Projection>): ProjectionWrite => {
  const write: ProjectionWrite = {
    keys: changed.apiKey,
    groups: changed.group,
    credentials: changed.providerCredential,
    hashes: [],
    notices: [],
    touchedKeys: new Map(),
  };
  for (const { kind, id, event, incoming } of events) {
    const v = incoming.envelope.streamPosition;
    let notice: ChangeNotice;
    if (kind === 'apiKey') {
      notice = { keyId: id };
      if (event.type === 'KeyCreated')
        write.hashes.push({ hash: event.data.hash, entry: { keyId: id, v }, expiresAt: null });
      if (event.type === 'KeyRotated') {
        write.hashes.push({ hash: event.data.hash, entry: { keyId: id, v }, expiresAt: null });
        write.hashes.push({
          hash: event.data.previousHash,
          entry: { keyId: id, v },
          expiresAt: event.data.previousValidUntil,
        });
        notice.hashes = [event.data.previousHash];
      }
    } else notice = kind === 'group' ? { groupId: id } : { credential: id };
    write.notices.push(notice);
  }
  return write;
};

// Folds keys.events into Redis. One consumer group for all instances (the shared projection);
// each applied change is announced on Redis pub/sub so every instance drops its cached copy.
@Injectable()
export class KeyProjectionConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('projection');

  constructor(
    private readonly consumer: EventConsumer,
    private readonly store: KeyProjectionStore,
    private readonly groupId: string,
    private readonly mode: CommitMode = 'live',
    // Called when a live commit was refused (the projection is incomplete or being replayed): heal now.
    private readonly onRefused?: () => void,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start({
      groupId: this.groupId,
      topics: [Topics.keysEvents],
      fromBeginning: true,
      // A revocation issued while Redis was away (or during a replay) waits in Kafka: retry often, so it applies
      // within a second of Redis coming back rather than at the next step of a 5 s backoff.
      maxRetryTimeMs: 1000,
      handle: (events) => this.applyAll(events),
      onMalformed: (_raw, reason, meta) =>
        this.logger.warn({ ...meta, reason }, 'skipped a malformed key event'),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }

  // A live batch refused while the projection is replayed is folded again as soon as the replay is done (onto the
  // documents it restored), here: not after a crash, a restart and a rejoin of the consumer group, seconds later
  // (a revocation issued during a replay would wait that long). A replay longer than that fails the batch, which
  // Kafka delivers again.
  async applyAll(events: IncomingEvent[]): Promise<void> {
    const giveUpAt = Date.now() + REFUSED_WAIT_MS;
    for (;;) {
      try {
        return await this.foldOnce(events);
      } catch (e) {
        if (this.mode !== 'live' || !isRebuildingError(e) || Date.now() >= giveUpAt) throw e;
        while (Date.now() < giveUpAt && !(await this.store.isServing().catch(() => false)))
          await new Promise((r) => setTimeout(r, SERVING_POLL_MS));
      }
    }
  }

  // One batch = one MGET per kind of the touched documents, an in-memory fold, one atomic write.
  private async foldOnce(events: IncomingEvent[]): Promise<void> {
    await foldBatch<Projection>(
      events,
      evolvers,
      async (ids, fold) => {
        const result = fold({
          apiKey: await this.store.loadKeys(ids.apiKey),
          group: await this.store.loadGroups(ids.group),
          providerCredential: await this.store.loadCredentials(ids.providerCredential),
        });
        const write = projectionWrite(result);
        const keyIds = new Set(ids.apiKey);
        for (const e of events)
          if (keyIds.has(e.envelope.subject))
            write.touchedKeys.set(
              e.envelope.subject,
              Math.max(write.touchedKeys.get(e.envelope.subject) ?? 0, e.envelope.streamPosition),
            );
        await this.store.commit(write, this.mode).catch((err: unknown) => {
          if (isRebuildingError(err)) this.onRefused?.();
          throw err;
        });
      },
      (e, result) => {
        applied.inc({ result });
        if (result === 'ignored') return;
        // A child of the event's trace: the management call that caused it shows its effect on the gateway.
        withTrace(e.trace, () =>
          tracer
            .startSpan('projection.apply', {
              kind: SpanKind.CONSUMER,
              attributes: {
                'keygate.event.type': e.envelope.type,
                'keygate.aggregate.id': e.envelope.subject,
                'keygate.stream_position': e.envelope.streamPosition,
                'keygate.projection.result': result,
              },
            })
            .end(),
        );
      },
    );
    const last = events[events.length - 1];
    if (last) lagGauge.set((Date.now() - Date.parse(last.envelope.time)) / 1000);
  }
}
