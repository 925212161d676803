import { parentPort, workerData } from 'node:worker_threads';
import type { TopicMessages } from 'kafkajs';
import { EventProducer } from './event-producer';
import { createKafka } from './kafka';

// The worker side of ThreadedEventProducer: one idempotent EventProducer, fed prepared messages.
export type ProducerThreadRequest = { id: number } & (
  { op: 'connect' | 'disconnect' } | { op: 'send'; topicMessages: TopicMessages[] }
);
export type ProducerThreadReply =
  | { op: 'log'; level: 'warn' | 'error'; message: string }
  | { op: 'done'; id: number; ok: true; connected: boolean }
  | { op: 'done'; id: number; ok: false; message: string; connected: boolean };

if (parentPort && workerData) {
  const port = parentPort;
  const { clientId, brokers } = workerData as { clientId: string; brokers: string[] };
  const producer = new EventProducer(
    createKafka(clientId, brokers, (level, message) =>
      port.postMessage({ op: 'log', level, message } satisfies ProducerThreadReply),
    ),
  );
  port.on('message', (m: ProducerThreadRequest) => {
    const work =
      m.op === 'send'
        ? producer.sendPrepared(m.topicMessages)
        : m.op === 'connect'
          ? producer.connect()
          : producer.disconnect();
    work.then(
      () => port.postMessage({ op: 'done', id: m.id, ok: true, connected: producer.isConnected }),
      (e: unknown) =>
        port.postMessage({
          op: 'done',
          id: m.id,
          ok: false,
          message: (e as Error).message,
          connected: producer.isConnected,
        }),
    );
  });
}
