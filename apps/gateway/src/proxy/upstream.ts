// The upstream side of the proxy: one call to one route target, answered in OpenAI's format. The caller
// (ProxyService) walks the route's targets and falls back while a result is `retryable`.
//
// - One keep-alive undici Pool per upstream origin, created on first use. Pool.dispatch never follows a
//   redirect, so a 3xx comes back as an error result.
// - The URL comes from config alone (adapters); the outgoing headers are built from nothing — content-type,
//   accept and the provider's auth header — so no client header (Authorization, hop-by-hop ones) ever leaves.
// - Our own timer rather than undici's (exchange.ts): `timeoutMs` bounds the time to response headers (connect
//   and pool queueing included) and each wait for the next body chunk, but not the time a slow client takes to
//   read.
// - A stream is returned only once its first frame is in, so a stream that fails before any byte reached the
//   client is still a retryable error result. After that, failures are thrown by the iterator as UpstreamError.
import { Pool, type buildConnector } from 'undici';
import { targetModel, type ProviderConfig, type RouteTarget } from '@keygate/platform/config/routes-config';
import type { ProviderAdapter, StreamTranslator, UpstreamEndpoint, UpstreamUsage } from './upstream-adapter';
import { openAiAdapter } from './openai.adapter';
import { azureAdapter } from './azure.adapter';
import { geminiAdapter } from './gemini.adapter';
import { Exchange } from './exchange';
import { SseParser } from './sse';
import {
  fromUpstreamStatus,
  upstreamBadResponse,
  upstreamUnavailable,
  UpstreamError,
  type UpstreamErrorResult,
} from './upstream-error';

export type { UpstreamEndpoint, UpstreamUsage } from './upstream-adapter';
export { UpstreamError } from './upstream-error';

export interface UpstreamCall {
  endpoint: UpstreamEndpoint;
  body: Record<string, unknown>; // the client's OpenAI-format JSON body, already validated as an object
  target: RouteTarget;
  provider: ProviderConfig;
  credential: string; // plaintext upstream secret, memory only: never logged, never in an error message
  timeoutMs: number; // time to response headers, and between two body chunks
  signal: AbortSignal; // aborted when the client disconnects → the upstream call is aborted
}

export type UpstreamResult =
  | {
      kind: 'json';
      status: number;
      /** The answer in OpenAI's format, as bytes: the provider's own for OpenAI and Azure, translated for Gemini. */
      body: Buffer;
      usage: UpstreamUsage;
      upstreamModel: string;
    }
  | {
      kind: 'stream';
      status: 200;
      /** Complete SSE frames in OpenAI chunk format, the last `data: [DONE]\n\n`. Drain it or stop it
       * (`break` / `return()`): either releases the upstream connection. Throws UpstreamError mid-stream. */
      chunks: AsyncIterable<string>;
      /** Final once `chunks` is drained; after a mid-stream failure, what the upstream reported so far. */
      usage(): UpstreamUsage;
      upstreamModel: string;
    }
  | UpstreamErrorResult;

const ADAPTERS: Record<ProviderConfig['type'], ProviderAdapter> = {
  openai: openAiAdapter,
  azure: azureAdapter,
  gemini: geminiAdapter,
};

// Error bodies are read only for their message.
const MAX_ERROR_BODY = 64 * 1024;

const parseJson = (buf: Buffer): unknown => {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
};

async function* frames(ex: Exchange, translator: StreamTranslator): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder(); // stream mode: a UTF-8 character cut between two TCP chunks stays whole
  const parser = new SseParser();
  try {
    for (;;) {
      // The timer runs only while we wait on the upstream, not while the consumer holds a yielded frame.
      const bytes = await ex.next();
      const events = bytes
        ? parser.push(decoder.decode(bytes, { stream: true }))
        : [...parser.push(decoder.decode()), ...parser.end()];
      for (const data of events) yield* translator.onData(data);
      if (!bytes) break;
    }
    yield* translator.end();
  } finally {
    // Consumer stopped early, the client left, or a failure: the upstream is released now. After a normal end
    // the socket goes back to the pool.
    ex.dispose();
  }
}

/** Wraps a started generator so the frame already read is replayed and return() always reaches it. */
const replayFirst = (
  gen: AsyncGenerator<string, void, undefined>,
  first: IteratorResult<string, void>,
): AsyncIterable<string> => {
  let pending: IteratorResult<string, void> | undefined = first;
  const iterator: AsyncIterator<string, void, undefined> = {
    next: () => {
      const p = pending;
      pending = undefined;
      return p ? Promise.resolve(p) : gen.next();
    },
    return: () => {
      pending = undefined;
      return gen.return(undefined);
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
};

export class UpstreamClient {
  private readonly pools = new Map<string, Pool>();
  private readonly connections: number;
  private readonly connect?: buildConnector.connector;
  private closed = false;

  // Bounded per origin: beyond it requests queue in the pool, and the headers timeout (which includes the
  // queueing) turns a saturated upstream into upstream_timeout, hence a fallback.
  // `connect`: the outbound address policy's checked connect (ALLOW_PRIVATE_UPSTREAMS), run on every connection.
  constructor(opts: { connections?: number; connect?: buildConnector.connector } = {}) {
    this.connections = opts.connections ?? 128;
    this.connect = opts.connect;
  }

  async call(c: UpstreamCall): Promise<UpstreamResult> {
    if (this.closed) return upstreamUnavailable().toResult();
    const adapter = ADAPTERS[c.provider.type];
    if (!adapter)
      return new UpstreamError(502, 'upstream_misconfigured', 'Unknown provider type.', true).toResult();
    const upstreamModel = targetModel(c.target);
    let ex: Exchange | undefined;
    try {
      const prepared = adapter.prepare(c);
      ex = new Exchange(c.signal, c.timeoutMs, prepared.stream);
      if (c.signal.aborted) throw ex.failed(c.signal.reason);
      const exchange = ex;
      this.pool(prepared.origin).dispatch(
        {
          method: 'POST',
          path: prepared.path,
          headers: prepared.headers,
          body: prepared.body,
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        exchange,
      );
      const status = await exchange.started();
      if (status < 200 || status >= 300) {
        const text = await exchange.whole(MAX_ERROR_BODY).catch(() => Buffer.alloc(0));
        throw fromUpstreamStatus(c.provider.type, status, parseJson(text), c.credential);
      }
      if (prepared.stream) {
        const translator = adapter.streamTranslator(c);
        const gen = frames(exchange, translator);
        ex = undefined; // from here the generator owns the exchange and disposes of it
        const first = await gen.next(); // throws UpstreamError, after the generator has cleaned up
        return {
          kind: 'stream',
          status: 200,
          chunks: replayFirst(gen, first),
          usage: () => translator.usage(),
          upstreamModel,
        };
      }
      const buf = await exchange.whole();
      // One parse, for the usage (and Gemini's translation); OpenAI's format goes back as the provider sent it.
      const payload = parseJson(buf);
      if (payload === undefined) throw upstreamBadResponse();
      const { body, usage } = adapter.fromJson(c, payload);
      const bytes = adapter.passThrough ? buf : Buffer.from(JSON.stringify(body));
      return { kind: 'json', status, body: bytes, usage, upstreamModel };
    } catch (err) {
      // Anything else is a bug of ours; still an error value, never a message from the exception.
      return (err instanceof UpstreamError ? err : upstreamUnavailable()).toResult();
    } finally {
      ex?.dispose();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connections,
        ...(this.connect ? { connect: this.connect } : {}),
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}
