import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { scrubSecrets } from '../logging/secrets';

// Query strings may carry secrets (a Gemini-style client sends ?key=…) and every instrumentation records
// URLs its own way: the path is kept, the query is not.
const URL_ATTRIBUTES = new Set(['url.full', 'http.url', 'http.target', 'url.query']);

const clean = (key: string, value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  if (URL_ATTRIBUTES.has(key) && value.includes('?')) return value.split('?')[0];
  if (key === 'url.query') return '[redacted]';
  return scrubSecrets(value);
};

// Runs while a span ends, before any exporter sees it: the last word on what leaves the process, for our
// spans and for every auto-instrumentation's (attributes and recorded exceptions alike).
export class SpanRedactionProcessor implements SpanProcessor {
  onStart(_span: Span, _context: Context): void {}

  onEnding(span: Span): void {
    // Runs for every span a traced request makes: no entry arrays.
    const attributes = span.attributes;
    for (const key in attributes) {
      const value = attributes[key];
      const cleaned = clean(key, value);
      if (cleaned !== value) span.setAttribute(key, cleaned as string);
    }
    for (const event of span.events) {
      const attrs = event.attributes as Record<string, unknown> | undefined;
      if (!attrs) continue;
      for (const [key, value] of Object.entries(attrs)) attrs[key] = clean(key, value);
    }
  }

  onEnd(_span: ReadableSpan): void {}
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
