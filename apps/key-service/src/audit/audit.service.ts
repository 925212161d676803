import { Injectable } from '@nestjs/common';
import { DomainError } from '../domain-errors';
import { EventStore, type StoredEvent } from '../event-store/event-store';
import type { AuditQuery } from './audit.dto';

export interface AuditEntry {
  id: string;
  position: number;
  type: string;
  aggregateId: string;
  streamPosition: number;
  actor: string;
  requestId: string;
  time: string;
  data: Record<string, unknown>;
}

// Events hold no secret in clear, but hashes and ciphertext are still nobody's business in an audit view
// (a hash lets one confirm a guessed key offline; ciphertext is one master-key leak away from clear).
const HIDDEN_FIELDS = new Set(['hash', 'previousHash', 'ciphertext', 'wrappedDataKey']);

export const redactEventData = (data: unknown): Record<string, unknown> => {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return {};
  return Object.fromEntries(Object.entries(data).filter(([k]) => !HIDDEN_FIELDS.has(k)));
};

export const toAuditEntry = (e: StoredEvent): AuditEntry => ({
  id: e.eventId,
  position: e.globalPosition,
  type: e.type,
  aggregateId: e.streamId,
  streamPosition: e.streamPosition,
  actor: e.metadata?.actor ?? 'unknown',
  requestId: e.metadata?.requestId ?? '',
  time: e.createdAt.toISOString(),
  data: redactEventData(e.data),
});

const encodeCursor = (position: number): string => Buffer.from(String(position)).toString('base64url');

const decodeCursor = (cursor: string): number => {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^\d{1,18}$/.test(text))
    throw new DomainError('VALIDATION_FAILED', 'cursor must be a nextCursor of a previous page', {
      field: 'cursor',
    });
  return Number(text);
};

// GET /v1/audit and ListAuditEvents: the event store in global order, filtered, paged by position.
@Injectable()
export class AuditService {
  constructor(private readonly store: EventStore) {}

  async list(q: AuditQuery): Promise<{ data: AuditEntry[]; nextCursor: string | null }> {
    const limit = q.limit ?? 100;
    const events = await this.store.history({
      aggregateId: q.aggregateId,
      type: q.type,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      afterPosition: q.cursor ? decodeCursor(q.cursor) : undefined,
      limit: limit + 1,
    });
    const data = events.slice(0, limit).map(toAuditEntry);
    return {
      data,
      nextCursor: events.length > limit ? encodeCursor(data[data.length - 1].position) : null,
    };
  }
}
