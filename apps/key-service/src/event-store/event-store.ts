import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import {
  KEY_EVENTS_SCHEMA_VERSION,
  makeEnvelope,
  Topics,
  type DomainEvent,
  type EventEnvelope,
} from '@keygate/contracts';
import { injectTraceHeaders } from '@keygate/messaging';
import { DomainError } from '../domain-errors';

export interface EventMetadata {
  actor: string; // admin token id, or "bootstrap"
  requestId: string;
}

export interface StoredEvent {
  streamId: string;
  streamPosition: number;
  globalPosition: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  metadata: EventMetadata;
  createdAt: Date;
}

export interface EventRow {
  stream_id: string;
  stream_position: number;
  global_position: string;
  event_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  created_at: Date;
}

export const toStored = (r: EventRow): StoredEvent => ({
  streamId: r.stream_id,
  streamPosition: r.stream_position,
  globalPosition: Number(r.global_position),
  eventId: r.event_id,
  type: r.type,
  schemaVersion: r.schema_version,
  data: r.data,
  metadata: r.metadata,
  createdAt: r.created_at,
});

// $1: [{ stream_id, stream_position, event_id, type, data, metadata, envelope, headers }], one or several
// streams. Rows are inserted in stream order, so global positions (a sequence) rise with stream positions. The
// outbox envelope gets the global position and the time as toEnvelope() would render them (ISO-8601,
// milliseconds, UTC).
const APPEND = `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(stream_id text, stream_position integer, event_id uuid,
      type text, data jsonb, metadata jsonb, envelope jsonb, headers jsonb)
  ), appended AS (
    INSERT INTO events (stream_id, stream_position, event_id, type, schema_version, data, metadata)
    SELECT stream_id, stream_position, event_id, type, $2::integer, data, metadata FROM input
    ORDER BY stream_id, stream_position
    ON CONFLICT (stream_id, stream_position) DO NOTHING
    RETURNING stream_id, stream_position, global_position, event_id, created_at
  ), published AS (
    INSERT INTO outbox (global_position, topic, message_key, envelope, headers)
    SELECT a.global_position, $3::text, a.stream_id,
           i.envelope || jsonb_build_object(
             'globalPosition', a.global_position,
             'time', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
           i.headers
    FROM appended a JOIN input i USING (event_id)
  )
  SELECT stream_id, stream_position, global_position, event_id, created_at FROM appended`;

export interface StreamAppend {
  streamId: string;
  expectedVersion: number;
  events: DomainEvent[];
  metadata: EventMetadata;
  // W3C trace context of the request that decided the events (defaults to the active context).
  traceHeaders?: Record<string, string>;
}

// The event store: append with an expected version, in the caller's transaction, together with the outbox
// rows. The (stream_id, stream_position) primary key is the optimistic-concurrency check.
@Injectable()
export class EventStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async load(streamId: string, manager: EntityManager = this.db.manager): Promise<StoredEvent[]> {
    const rows: EventRow[] = await manager.query(
      `SELECT * FROM events WHERE stream_id = $1 ORDER BY stream_position`,
      [streamId],
    );
    return rows.map(toStored);
  }

  async append(
    manager: EntityManager,
    streamId: string,
    expectedVersion: number,
    events: DomainEvent[],
    metadata: EventMetadata,
  ): Promise<StoredEvent[]> {
    const [stored] = await this.appendMany(manager, [{ streamId, expectedVersion, events, metadata }]);
    return stored;
  }

  // One statement appends the events of one or several streams and their outbox rows: the round trips of a
  // write are most of its cost. ON CONFLICT DO NOTHING on the (stream_id, stream_position) key is the concurrency
  // check: a row missing from RETURNING is a position someone else took. Then nothing of the call is kept (a
  // conflict never leaves half a decision) and VERSION_CONFLICT names the stream; the transaction stays usable.
  async appendMany(manager: EntityManager, appends: StreamAppend[]): Promise<StoredEvent[][]> {
    const pending = appends.flatMap((a) => {
      const headers = a.traceHeaders ?? injectTraceHeaders();
      return a.events.map((event, i) => {
        const streamPosition = a.expectedVersion + i + 1;
        const eventId = randomUUID();
        // The envelope but for the two values PostgreSQL assigns, which APPEND adds (globalPosition, time).
        const {
          globalPosition: _g,
          time: _t,
          ...envelope
        } = toEnvelope({
          streamId: a.streamId,
          streamPosition,
          globalPosition: 0,
          eventId,
          type: event.type,
          schemaVersion: KEY_EVENTS_SCHEMA_VERSION,
          data: event.data,
          metadata: a.metadata,
          createdAt: new Date(0),
        });
        return {
          stream_id: a.streamId,
          stream_position: streamPosition,
          event_id: eventId,
          type: event.type,
          data: event.data,
          metadata: a.metadata,
          envelope,
          headers,
        };
      });
    });
    if (pending.length === 0) return appends.map(() => []);
    const rows: Pick<
      EventRow,
      'stream_id' | 'stream_position' | 'global_position' | 'event_id' | 'created_at'
    >[] = await manager.query(APPEND, [
      JSON.stringify(pending),
      KEY_EVENTS_SCHEMA_VERSION,
      Topics.keysEvents,
    ]);
    if (rows.length < pending.length) {
      const got = new Set(rows.map((r) => r.event_id));
      const lost = pending.find((p) => !got.has(p.event_id))!;
      if (rows.length > 0) {
        await manager.query(`DELETE FROM outbox WHERE global_position = ANY($1::bigint[])`, [
          rows.map((r) => r.global_position),
        ]);
        await manager.query(`DELETE FROM events WHERE event_id = ANY($1::uuid[])`, [
          rows.map((r) => r.event_id),
        ]);
      }
      throw new DomainError(
        'VERSION_CONFLICT',
        `${lost.stream_id} was changed by someone else; reload and retry`,
        {
          streamId: lost.stream_id,
          expectedVersion: appends.find((a) => a.streamId === lost.stream_id)!.expectedVersion,
        },
      );
    }
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    let next = 0;
    return appends.map((a) =>
      a.events.map(() => {
        const p = pending[next++];
        const row = byId.get(p.event_id)!;
        return {
          streamId: a.streamId,
          streamPosition: p.stream_position,
          globalPosition: Number(row.global_position),
          eventId: p.event_id,
          type: p.type,
          schemaVersion: KEY_EVENTS_SCHEMA_VERSION,
          data: p.data,
          metadata: a.metadata,
          createdAt: row.created_at,
        };
      }),
    );
  }

  async history(filter: {
    aggregateId?: string;
    type?: string;
    from?: Date;
    to?: Date;
    afterPosition?: number;
    limit: number;
  }): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.aggregateId) add('stream_id = ?', filter.aggregateId);
    if (filter.type) add('type = ?', filter.type);
    if (filter.from) add('created_at >= ?', filter.from);
    if (filter.to) add('created_at < ?', filter.to);
    if (filter.afterPosition !== undefined) add('global_position > ?', filter.afterPosition);
    params.push(filter.limit);
    const rows: EventRow[] = await this.db.query(
      `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY global_position LIMIT $${params.length}`,
      params,
    );
    return rows.map(toStored);
  }
}

export const toEnvelope = (e: StoredEvent): EventEnvelope =>
  makeEnvelope({
    id: e.eventId,
    type: e.type,
    schemaVersion: e.schemaVersion,
    source: 'key-service',
    time: e.createdAt,
    subject: e.streamId,
    streamPosition: e.streamPosition,
    globalPosition: e.globalPosition,
    correlationId: e.metadata.requestId,
    causationId: null,
    data: e.data,
  });
