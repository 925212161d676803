import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Span } from '@opentelemetry/api';
import type { Topic } from '@keygate/contracts';
import { prepareMessages, settleSpans, type EventSender, type OutgoingEvent } from './event-producer';
import {
  messageLine,
  type ProducerThreadCall,
  type ProducerThreadReply,
  type ProducerThreadRequest,
} from './producer-thread';

type Log = (level: 'warn' | 'error', msg: string) => void;

// Events made into messages a slice per turn of the event loop: a gateway's flush of 700 took 2-5 ms in one piece
// (JSON, headers, producer spans), which the request in flight waited out; in slices it waits for one at most.
const SLICE = 64;

export const encodeInSlices = async (
  topic: Topic,
  events: OutgoingEvent[],
  spans: Span[],
): Promise<string> => {
  let lines = '';
  for (let i = 0; i < events.length; i += SLICE) {
    if (i > 0) await nextTurn();
    const prepared = prepareMessages([{ topic, events: events.slice(i, i + SLICE) }]);
    spans.push(...prepared.spans);
    for (const m of prepared.topicMessages[0].messages) lines += messageLine(m);
  }
  return lines;
};

// An EventProducer whose kafkajs runs in a worker thread. kafkajs encodes every record in JavaScript (varints,
// CRC-32C), some 20-40 µs per message on the thread that sends: on a gateway's event loop that is a burst of
// several milliseconds per flush, which the request that happens to be in flight waits out. Here the caller's
// thread only makes the messages (JSON, trace headers, producer spans) and hands them over as one string.
// Needs the compiled producer-thread.js beside this file (dist/), as the services run.
export class ThreadedEventProducer implements EventSender {
  private worker?: Worker;
  private readonly calls = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private connected = false;

  constructor(
    private readonly clientId: string,
    private readonly brokers: string[],
    private readonly log: Log = () => undefined,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  connect(): Promise<void> {
    return this.call({ op: 'connect' });
  }

  async disconnect(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.call({ op: 'disconnect' });
    } finally {
      this.worker = undefined;
      await worker.terminate();
    }
  }

  async send(topic: Topic, events: OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const spans: Span[] = [];
    try {
      await this.call({ op: 'send', topic, lines: await encodeInSlices(topic, events, spans) });
      settleSpans(spans);
    } catch (e) {
      settleSpans(spans, e);
      throw e;
    }
  }

  private call(request: ProducerThreadCall): Promise<void> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } satisfies ProducerThreadRequest);
    });
  }

  // Started on first use; a thread that died (it should not) is replaced on the next call, and what it had in
  // hand fails, so the caller keeps its events and retries.
  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(join(__dirname, 'producer-thread.js'), {
      workerData: { clientId: this.clientId, brokers: this.brokers },
    });
    worker.on('message', (m: ProducerThreadReply) => {
      if (m.op === 'log') return this.log(m.level, m.message);
      this.connected = m.connected;
      const call = this.calls.get(m.id);
      this.calls.delete(m.id);
      if (m.ok) call?.resolve();
      else call?.reject(new Error(m.message));
    });
    const fail = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.connected = false;
      for (const call of this.calls.values()) call.reject(e);
      this.calls.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`producer thread exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
