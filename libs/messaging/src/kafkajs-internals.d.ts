// The parts of kafkajs's protocol code that kafka-encoder.spec.ts drives directly (kafkajs ships no types for them).
declare module 'kafkajs/src/protocol/decoder' {
  export default class Decoder {
    constructor(buffer: Buffer);
  }
}
declare module 'kafkajs/src/protocol/recordBatch/record/v0' {
  export default function Record(record: {
    offsetDelta: number;
    timestampDelta: number;
    key: Buffer;
    value: Buffer;
    headers: Record<string, string>;
  }): unknown;
}
declare module 'kafkajs/src/protocol/recordBatch/v0' {
  export function RecordBatch(batch: {
    records: unknown[];
    firstTimestamp: number;
    maxTimestamp: number;
    lastOffsetDelta: number;
  }): Promise<{ buffer: Buffer }>;
}
declare module 'kafkajs/src/protocol/recordBatch/v0/decoder' {
  export default function decodeRecordBatch(decoder: unknown): Promise<{ records: unknown[] }>;
}
