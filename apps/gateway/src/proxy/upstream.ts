// The upstream side of the proxy: one call to one route target, answered in OpenAI's format. The caller
// (ProxyService) walks the route's targets and falls back while a result is `retryable`.
//
// - One keep-alive undici Pool per upstream origin, created on first use. Pool.request never follows a
//   redirect, so a 3xx comes back as an error result.
// - The URL comes from config alone (adapters); the outgoing headers are built from nothing — content-type,
//   accept and the provider's auth header — so no client header (Authorization, hop-by-hop ones) ever leaves.
// - Our own timers rather than undici's: `timeoutMs` bounds the time to response headers (connect and pool
//   queueing included) and each wait for the next body chunk, but not the time a slow client takes to read.
// - A stream is returned only once its first frame is in, so a stream that fails before any byte reached the
//   client is still a retryable error result. After that, failures are thrown by the iterator as UpstreamError.
import { Pool, type buildConnector, type Dispatcher } from 'undici';
import { targetModel, type ProviderConfig, type RouteTarget } from '@keygate/platform/config/routes-config';
import type { ProviderAdapter, StreamTranslator, UpstreamEndpoint, UpstreamUsage } from './upstream-adapter';
import { openAiAdapter } from './openai.adapter';
import { azureAdapter } from './azure.adapter';
import { geminiAdapter } from './gemini.adapter';
import { SseParser } from './sse';
import {
  fromException,
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

type Body = Dispatcher.ResponseData['body'];

const noop = (): void => undefined;

// Destroying a body that has not ended aborts its request (closes the socket, the upstream sees it);
// the late 'error' it may emit is nobody's business any more.
const release = (body: Body): void => {
  body.on('error', noop).destroy();
};

/** One upstream request's lifetime: its abort controller, timer and link to the client's signal. */
class Exchange {
  readonly controller = new AbortController();
  // One timer per exchange, re-armed for each wait on the upstream (its headers, then each chunk).
  private timer: NodeJS.Timeout | undefined;
  private waiting = false;
  private timedOut = false;
  private readonly onClientAbort = (): void => this.controller.abort(this.client.reason);
  private readonly expire = (): void => {
    if (!this.waiting) return; // it ran out while the consumer held a frame: not a wait on the upstream
    this.timedOut = true;
    this.controller.abort(new Error('upstream timeout'));
  };

  constructor(
    private readonly client: AbortSignal,
    private readonly timeoutMs: number,
  ) {
    client.addEventListener('abort', this.onClientAbort, { once: true });
  }

  /** Awaits `p` with the timeout armed; on expiry the request is aborted, which rejects `p`. */
  async watch<T>(p: Promise<T>): Promise<T> {
    this.arm();
    try {
      return await p;
    } finally {
      this.waiting = false;
    }
  }

  /** The whole body (or its first `limit` bytes); each chunk re-arms the timer, which bounds the wait for the
   * next. */
  readBody(body: Body, limit = Infinity): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      const settle = (): void => {
        this.waiting = false;
        resolve(Buffer.concat(parts, size));
      };
      this.arm();
      body.on('data', (chunk: Buffer) => {
        parts.push(chunk);
        size += chunk.length;
        if (size <= limit) return this.arm();
        release(body);
        settle();
      });
      body.once('end', settle);
      body.once('error', (e: unknown) => {
        this.waiting = false;
        reject(e);
      });
    });
  }

  private arm(): void {
    this.waiting = true;
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(this.expire, this.timeoutMs);
  }

  failure(err: unknown): UpstreamError {
    return fromException(err, { timedOut: this.timedOut, clientAborted: this.client.aborted });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.onClientAbort);
  }
}

const parseJson = (buf: Buffer): unknown => {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
};

async function* frames(
  body: Body,
  ex: Exchange,
  translator: StreamTranslator,
): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder(); // stream mode: a UTF-8 character cut between two TCP chunks stays whole
  const parser = new SseParser();
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        // The timer runs only while we wait on the upstream, not while the consumer holds a yielded frame.
        r = (await ex.watch(it.next())) as IteratorResult<Buffer>;
      } catch (err) {
        throw ex.failure(err);
      }
      const events = r.done
        ? [...parser.push(decoder.decode()), ...parser.end()]
        : parser.push(decoder.decode(r.value, { stream: true }));
      for (const data of events) yield* translator.onData(data);
      if (r.done) break;
    }
    yield* translator.end();
  } finally {
    ex.dispose();
    // Consumer stopped early, the client left, or a failure: release the upstream now. After a normal end
    // this is a no-op and the socket goes back to the pool.
    release(body);
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
      ex = new Exchange(c.signal, c.timeoutMs);
      if (c.signal.aborted) throw ex.failure(c.signal.reason);
      const exchange = ex;
      let res: Dispatcher.ResponseData;
      try {
        res = await exchange.watch(
          this.pool(prepared.origin).request({
            method: 'POST',
            path: prepared.path,
            headers: prepared.headers,
            body: prepared.body,
            signal: exchange.controller.signal,
            headersTimeout: 0,
            bodyTimeout: 0,
          }),
        );
      } catch (err) {
        throw exchange.failure(err);
      }
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      if (!ok) {
        const text = await exchange.readBody(res.body, MAX_ERROR_BODY).catch(() => Buffer.alloc(0));
        throw fromUpstreamStatus(c.provider.type, res.statusCode, parseJson(text), c.credential);
      }
      if (prepared.stream) {
        const translator = adapter.streamTranslator(c);
        const gen = frames(res.body, exchange, translator);
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
      let buf: Buffer;
      try {
        buf = await exchange.readBody(res.body);
      } catch (err) {
        throw exchange.failure(err);
      }
      // One parse, for the usage (and Gemini's translation); OpenAI's format goes back as the provider sent it.
      const payload = parseJson(buf);
      if (payload === undefined) throw upstreamBadResponse();
      const { body, usage } = adapter.fromJson(c, payload);
      const bytes = adapter.passThrough ? buf : Buffer.from(JSON.stringify(body));
      return { kind: 'json', status: res.statusCode, body: bytes, usage, upstreamModel };
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
