import type { Span } from '@opentelemetry/api';
import { makeEnvelope, Topics } from '@keygate/contracts';
import type { OutgoingEvent } from './event-producer';
import { prepareMessages } from './event-producer';
import { messageLine, parseMessageLines } from './producer-thread';
import { encodeInSlices } from './threaded-producer';

const events = (n: number): OutgoingEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i % 2 ? `key-${i}` : 'a key\twith\nwhat "JSON" escapes',
    envelope: makeEnvelope({
      type: 'RequestCompleted',
      source: 'gateway',
      subject: `key-${i}`,
      data: { n: i, text: 'tab\there, newline\nthere, quote " and \\ backslash, ✓' },
    }),
    headers: { traceparent: `00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333${i % 10}-00` },
  }));

// The messages a send hands to the producer thread: one string, a line each, read back as the messages
// prepareMessages makes (keys, headers and values whatever they hold), and made a slice at a time.
describe('ThreadedEventProducer: messages as lines, made between turns of the event loop', () => {
  it('reads back exactly the messages prepareMessages makes', async () => {
    const sent = events(150);
    const spans: Span[] = [];
    const lines = await encodeInSlices(Topics.usageRequests, sent, spans);
    const expected = prepareMessages([{ topic: Topics.usageRequests, events: sent }]).topicMessages[0]
      .messages;
    expect(parseMessageLines(lines)).toEqual(expected);
    expect(lines.split('\n')).toHaveLength(151);
  });

  it('refuses a line cut short instead of sending a wrong message', () => {
    const line = messageLine({ key: 'k', headers: { a: 'b' }, value: '{"x":1}' });
    expect(parseMessageLines(line)).toEqual([{ key: 'k', headers: { a: 'b' }, value: '{"x":1}' }]);
    expect(() => parseMessageLines(line.slice(0, -1))).toThrow('malformed message line');
    expect(() => parseMessageLines('"k"{}\n')).toThrow('malformed message line');
  });

  it('lets the event loop turn between slices of a large send', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('a turn of the event loop'));
    await encodeInSlices(Topics.usageRequests, events(200), []);
    order.push('encoded');
    expect(order).toEqual(['a turn of the event loop', 'encoded']);
  });

  it('makes a small send in one piece', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('a turn of the event loop'));
    await encodeInSlices(Topics.usageRequests, events(10), []);
    order.push('encoded');
    expect(order).toEqual(['encoded']);
  });
});
