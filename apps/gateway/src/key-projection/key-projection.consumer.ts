import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SpanKind, trace } from '@opentelemetry/api';
import { Topics, isKeyEventType, type DomainEvent } from '@keygate/contracts';
import { EventConsumer, withTrace, type IncomingEvent } from '@keygate/messaging';
import { counter, gauge } from '@keygate/platform';
import {
  evolveCredential,
  evolveKey,
  isCredentialEvent,
  isKeyEvent,
  type CredentialDocument,
  type GroupDocument,
  type HashEntry,
  type KeyDocument,
} from './key-document';
import { KeyProjectionStore, type ChangeNotice } from './key-projection.store';

const applied = counter('keygate_projection_events_total', 'Key events applied to the Redis projection', [
  'result',
]);
const lagGauge = gauge(
  'keygate_projection_lag_seconds',
  'Age of the last key event applied to the projection',
);
const tracer = trace.getTracer('keygate-gateway');

// Folds keys.events into Redis. One consumer group for all instances (the shared projection);
// each applied change is announced on Redis pub/sub so every instance drops its cached copy.
@Injectable()
export class KeyProjectionConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('projection');

  constructor(
    private readonly consumer: EventConsumer,
    private readonly store: KeyProjectionStore,
    private readonly groupId: string,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start({
      groupId: this.groupId,
      topics: [Topics.keysEvents],
      fromBeginning: true,
      // A revocation issued while Redis was away waits in Kafka: retry often, so it applies within a second of
      // Redis coming back rather than at the next step of a 5 s backoff.
      maxRetryTimeMs: 1000,
      handle: (events) => this.applyAll(events),
      onMalformed: (_raw, reason, meta) =>
        this.logger.warn({ ...meta, reason }, 'skipped a malformed key event'),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }

  // One batch = one MGET of the touched documents, an in-memory fold, one pipelined write. Redelivered or
  // replayed events fold to nothing (their stream position is not newer than the document's).
  async applyAll(events: IncomingEvent[]): Promise<void> {
    const relevant = events.filter((e) => isKeyEventType(e.envelope.type));
    if (relevant.length === 0) return;
    const keyIds = new Set<string>();
    const groupIds = new Set<string>();
    const credentialIds = new Set<string>();
    for (const { envelope } of relevant) {
      const data = envelope.data as { keyId?: string; groupId?: string; credentialId?: string };
      if (envelope.type.startsWith('Key') && data.keyId) keyIds.add(data.keyId);
      else if (envelope.type.startsWith('Group') && data.groupId) groupIds.add(data.groupId);
      else if (envelope.type.startsWith('ProviderCredential') && data.credentialId)
        credentialIds.add(data.credentialId);
    }
    const batch: ProjectionBatch = {
      keys: await this.store.loadKeys([...keyIds]),
      groups: await this.store.loadGroups([...groupIds]),
      credentials: await this.store.loadCredentials([...credentialIds]),
      hashes: [],
      changedKeys: new Set(),
      changedGroups: new Set(),
      changedCredentials: new Set(),
      notices: [],
    };
    for (const e of relevant) {
      // A child of the event's trace: the management call that caused it shows its effect on the gateway.
      withTrace(e.trace, () =>
        tracer.startActiveSpan('projection.apply', { kind: SpanKind.CONSUMER }, (span) => {
          span.setAttributes({
            'keygate.event.type': e.envelope.type,
            'keygate.aggregate.id': e.envelope.subject,
            'keygate.stream_position': e.envelope.streamPosition,
          });
          const notice = this.fold(batch, e);
          applied.inc({ result: notice ? 'applied' : 'skipped' });
          span.setAttribute('keygate.projection.result', notice ? 'applied' : 'skipped');
          if (notice) batch.notices.push(notice);
          span.end();
        }),
      );
    }
    await this.store.commit(
      [...batch.changedKeys].map((id) => batch.keys.get(id)!),
      [...batch.changedGroups].map((id) => batch.groups.get(id)!),
      [...batch.changedCredentials].map((id) => batch.credentials.get(id)!),
      batch.hashes,
      batch.notices,
    );
    lagGauge.set((Date.now() - Date.parse(relevant[relevant.length - 1].envelope.time)) / 1000);
  }

  // Applies one event to the batch's working documents; returns what changed, or null when it was already
  // applied (or is not for the gateway).
  private fold(batch: ProjectionBatch, { envelope }: IncomingEvent): ChangeNotice | null {
    const event = { type: envelope.type, data: envelope.data } as DomainEvent;
    const v = envelope.streamPosition;
    if (isKeyEvent(event)) {
      const keyId = event.data.keyId;
      const current = batch.keys.get(keyId) ?? null;
      if (current && current.v >= v) return null;
      const next = evolveKey(current, event, v);
      if (!next) return null;
      batch.keys.set(keyId, next);
      batch.changedKeys.add(keyId);
      const hashes = [next.hash];
      if (event.type === 'KeyCreated') batch.hashes.push([next.hash, { keyId, validUntil: null }]);
      if (event.type === 'KeyRotated') {
        batch.hashes.push([event.data.hash, { keyId, validUntil: null }]);
        batch.hashes.push([event.data.previousHash, { keyId, validUntil: event.data.previousValidUntil }]);
        hashes.push(event.data.previousHash);
      }
      return { keyId, hashes };
    }
    if (isCredentialEvent(event)) {
      const credentialId = event.data.credentialId;
      const current = batch.credentials.get(credentialId) ?? null;
      if (current && current.v >= v) return null;
      const next = evolveCredential(current, event, v);
      if (!next) return null;
      batch.credentials.set(credentialId, next);
      batch.changedCredentials.add(credentialId);
      return { credential: credentialId };
    }
    if (event.type === 'GroupCreated' || event.type === 'GroupUpdated' || event.type === 'GroupDeleted') {
      const groupId = event.data.groupId;
      const current = batch.groups.get(groupId);
      if (current && current.v >= v) return null;
      batch.groups.set(groupId, {
        groupId,
        v,
        routes:
          event.type === 'GroupDeleted'
            ? []
            : event.type === 'GroupCreated'
              ? event.data.routes
              : (event.data.routes ?? current?.routes ?? []),
        deleted: event.type === 'GroupDeleted',
      });
      batch.changedGroups.add(groupId);
      return { groupId };
    }
    return null;
  }
}

interface ProjectionBatch {
  keys: Map<string, KeyDocument>;
  groups: Map<string, GroupDocument>;
  credentials: Map<string, CredentialDocument>;
  changedCredentials: Set<string>;
  hashes: [string, HashEntry][];
  changedKeys: Set<string>;
  changedGroups: Set<string>;
  notices: ChangeNotice[];
}
