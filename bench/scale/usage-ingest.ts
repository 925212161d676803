import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import {
  makeEnvelope,
  newId,
  REQUEST_COMPLETED,
  Topics,
  USAGE_EVENTS_SCHEMA_VERSION,
} from '@keygate/contracts';
import type { RequestCompletedData } from '@keygate/contracts';
import { createKafka } from '@keygate/messaging';
import { round } from '../lib/load';
import { log, type Proc } from '../lib/processes';

// usage-service ingest rate: N RequestCompleted events (as the gateway sends them: keyed by key id, JSON
// envelopes) produced into the private broker's usage.requests first, then a usage-service started on a fresh
// ledger drains that backlog; the rate is measured from the first row in the ledger (usage_requests) to the N-th,
// so neither the producer nor the service's start-up limits it.

export interface IngestStats {
  events: number;
  keys: number;
  produceSeconds: number;
  producedPerSecond: number;
  ledgerSeconds: number; // from the first row in the ledger to the last
  eventsPerSecond: number;
  serviceRssMiB: number;
}

const event = (keyId: string, i: number): RequestCompletedData => ({
  requestId: newId('req'),
  keyId,
  route: 'gpt-4o-mini',
  provider: 'openai-main',
  upstreamModel: 'gpt-4o-mini',
  endpoint: 'chat',
  status: 200,
  outcome: 'success',
  errorCode: null,
  promptTokens: 12 + (i % 50),
  completionTokens: 40 + (i % 200),
  streamed: i % 5 === 0,
  latencyMs: 20 + (i % 30),
  clientIp: '10.0.0.1',
  time: new Date().toISOString(),
});

export const produceUsageEvents = async (
  brokers: string,
  events: number,
  keys = 1000,
): Promise<{ seconds: number; perSecond: number }> => {
  const keyIds = Array.from({ length: keys }, () => newId('key'));
  const producer = createKafka('keygate-bench-usage', [brokers]).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    log(`usage: producing ${events} RequestCompleted events over ${keys} keys`);
    const t0 = performance.now();
    const BATCH = 2000;
    for (let i = 0; i < events; i += BATCH) {
      const messages = [];
      for (let j = i; j < Math.min(events, i + BATCH); j++) {
        const keyId = keyIds[j % keys];
        const data = event(keyId, j);
        messages.push({
          key: keyId,
          value: JSON.stringify(
            makeEnvelope({
              type: REQUEST_COMPLETED,
              schemaVersion: USAGE_EVENTS_SCHEMA_VERSION,
              source: 'gateway',
              subject: keyId,
              correlationId: data.requestId,
              data,
            }),
          ),
        });
      }
      await producer.send({ topic: Topics.usageRequests, acks: -1, messages });
    }
    const seconds = (performance.now() - t0) / 1000;
    return { seconds: round(seconds, 2), perSecond: Math.round(events / seconds) };
  } finally {
    await producer.disconnect();
  }
};

// Waits until the ledger holds `events` rows; the clock starts at the first row.
export const measureIngest = async (
  usageDatabaseUrl: string,
  service: Proc,
  events: number,
  produced: { seconds: number; perSecond: number },
  keys = 1000,
): Promise<IngestStats> => {
  const db = new Client({ connectionString: usageDatabaseUrl });
  await db.connect();
  const count = async (): Promise<number> =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM usage_requests')).rows[0].n);
  try {
    const deadline = Date.now() + 15 * 60_000;
    let first: { at: number; n: number } | null = null;
    let n = 0;
    while (n < events) {
      if (Date.now() > deadline) throw new Error(`the ledger holds ${n} of ${events} after 15 min`);
      if (service.exitCode() !== null) throw new Error(`usage-service exited; see ${service.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
      n = await count();
      if (!first && n > 0) first = { at: performance.now(), n };
    }
    const seconds = (performance.now() - first!.at) / 1000;
    return {
      events,
      keys,
      produceSeconds: produced.seconds,
      producedPerSecond: produced.perSecond,
      ledgerSeconds: round(seconds, 2),
      eventsPerSecond: Math.round((events - first!.n) / seconds),
      serviceRssMiB: service.rssMiB(),
    };
  } finally {
    await db.end();
  }
};
