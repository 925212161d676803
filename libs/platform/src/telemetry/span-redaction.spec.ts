import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { SpanRedactionProcessor } from './span-redaction';

// The last word on what leaves the process in a span: a query string, a key-shaped string in any attribute or
// in a recorded exception's attributes never reaches the exporter; other values pass unchanged.
describe('SpanRedactionProcessor', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [new SpanRedactionProcessor(), new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('test');
  const secret = `kg_live_${'A1b2C3d4'.repeat(4)}`;

  afterAll(() => provider.shutdown());

  it('scrubs secrets and query strings from attributes and events before any exporter sees the span', () => {
    const span = tracer.startSpan('request', {
      attributes: {
        'url.full': `http://gw.test/v1/models?key=${secret}`,
        'url.query': 'key=AIza-not-ours',
        'keygate.note': `client sent Bearer ${secret} in a header`,
        'keygate.provider_key': 'sk-proj-abcdefghijklmnopqrstuvwxyz',
        'keygate.key.id': 'key_01HXYZ',
        'http.response.status_code': 401,
      },
    });
    span.addEvent('exception', { 'exception.message': `invalid key ${secret}` });
    span.end();

    const [exported] = exporter.getFinishedSpans();
    expect(exported.attributes).toEqual({
      'url.full': 'http://gw.test/v1/models',
      'url.query': '[redacted]',
      'keygate.note': 'client sent Bearer kg_live_[redacted] in a header',
      'keygate.provider_key': 'sk-proj-[redacted]',
      'keygate.key.id': 'key_01HXYZ',
      'http.response.status_code': 401,
    });
    expect(exported.events[0].attributes).toEqual({ 'exception.message': 'invalid key kg_live_[redacted]' });
    expect(JSON.stringify(exported.attributes)).not.toContain(secret);
  });
});
