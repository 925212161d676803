import { randomUUID } from 'node:crypto';

export type EventSource = 'key-service' | 'gateway' | 'usage-service';

// The JSON envelope of every Kafka message (DESIGN.md); the W3C traceparent travels in a Kafka header.
export interface EventEnvelope<TType extends string = string, TData = unknown> {
  id: string;
  type: TType;
  schemaVersion: number;
  source: EventSource;
  time: string;
  subject: string;
  streamPosition: number;
  globalPosition: number;
  correlationId: string | null;
  causationId: string | null;
  data: TData;
}

export interface EnvelopeInput<TType extends string, TData> {
  type: TType;
  data: TData;
  source: EventSource;
  subject: string;
  schemaVersion?: number;
  streamPosition?: number;
  globalPosition?: number;
  correlationId?: string | null;
  causationId?: string | null;
  id?: string;
  time?: Date;
}

export const makeEnvelope = <TType extends string, TData>(
  input: EnvelopeInput<TType, TData>,
): EventEnvelope<TType, TData> => ({
  id: input.id ?? randomUUID(),
  type: input.type,
  schemaVersion: input.schemaVersion ?? 1,
  source: input.source,
  time: (input.time ?? new Date()).toISOString(),
  subject: input.subject,
  streamPosition: input.streamPosition ?? 0,
  globalPosition: input.globalPosition ?? 0,
  correlationId: input.correlationId ?? null,
  causationId: input.causationId ?? null,
  data: input.data,
});

export const isEnvelope = (value: unknown): value is EventEnvelope =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as EventEnvelope).id === 'string' &&
  typeof (value as EventEnvelope).type === 'string' &&
  typeof (value as EventEnvelope).subject === 'string' &&
  typeof (value as EventEnvelope).streamPosition === 'number' &&
  typeof (value as EventEnvelope).data === 'object';
