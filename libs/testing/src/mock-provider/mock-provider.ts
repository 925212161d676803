// The local mock AI provider: the one test double keygate keeps. It speaks the real wire formats of
// OpenAI, Azure OpenAI and Google Gemini on one port, so the gateway talks to it exactly as it would to
// the real services. `npm run up` starts it when no real provider is configured (see main.ts), tests and
// benchmarks start it in-process. Plain node:http on purpose: it is the latency floor of the benchmarks.
//
// Endpoints (base URL for the openai SDK: `${url}/v1`; for AzureOpenAI: endpoint `${url}`; Gemini: `${url}`):
//   POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models[/:id]     Authorization: Bearer <non-empty>
//   POST /openai/deployments/:d/chat/completions|embeddings?api-version=…     api-key: <non-empty>
//   POST /v1beta/models/:model:generateContent | streamGenerateContent[?alt=sse] | embedContent |
//        batchEmbedContents | countTokens, GET /v1beta/models            x-goog-api-key or ?key=
//   GET /health (no auth), and /__mock/* to script a mock running in another process (npm run up):
//   GET /__mock/requests, POST /__mock/reset, POST /__mock/fail-next {n,status,body?},
//   POST /__mock/config {latencyMs?, chunkDelayMs?}
// A missing credential gets each provider's own answer: OpenAI 401, Azure 401, Gemini 403 PERMISSION_DENIED.
// With `acceptedKeys` set, any other credential is refused too (OpenAI/Azure 401, Gemini 400).
//
// Scripting failures — two simple mechanisms, checked in this order after authentication:
//   1. failNext(n, status, body?): the next n authenticated provider requests (any endpoint) answer `status`
//      with that provider's real error body (or `body`: an object is sent as JSON, a string as is). FIFO.
//      Note the openai SDK retries 429/5xx by itself (maxRetries defaults to 2): each retry consumes one.
//   2. The model name (OpenAI body.model, Azure deployment, Gemini model in the URL) may contain:
//      mock-fail-NNN    always answer status NNN (e.g. mock-fail-500, mock-fail-429 with retry-after: 1)
//      mock-slow[-MS]   wait MS ms (default 120000, beyond any timeout) before answering; stops if the client goes
//      mock-drop        cut the connection: before any byte, or half-way through a stream
//      mock-words-N     reply with N lorem words (long streams for benchmarks) instead of the echo
// Token counts and reply text: see mock-text.ts (countTokens = whitespace-separated words).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { geminiError, handleGemini, handleGeminiModels } from './gemini';
import { readBody, sendJson, sleep, type MockContext, type RecordedRequest } from './mock-http';
import {
  authFailure,
  credential,
  matchRoute,
  notFound,
  scriptedFailure,
  send,
  type Route,
} from './mock-routes';
import { isObj } from './mock-text';
import { azureError, handleChat, handleEmbeddings, handleModels, openAiError } from './openai';

export type { RecordedRequest, ProviderKind } from './mock-http';
export * from './mock-text';
export { OPENAI_MODELS } from './openai';
export { GEMINI_MODELS } from './gemini';

export interface MockProviderOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Delay before the first byte of every provider response. */
  latencyMs?: number;
  /** Delay between two streamed chunks (default 0). */
  chunkDelayMs?: number;
  /** When set, only these credentials are accepted; otherwise any non-empty one is. */
  acceptedKeys?: readonly string[];
  /** Keep at most about this many recorded requests, the most recent (default 10000); 0 records nothing. */
  maxRecorded?: number;
}

export interface MockProvider {
  /** e.g. http://127.0.0.1:9100, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Live list (cleared in place by reset()), oldest first. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
  /** Clears the recorded requests and scripted failures; restores the start options. */
  reset(): void;
  failNext(n: number, status: number, body?: unknown): void;
  setLatency(ms: number): void;
  /** The most provider requests it has had open at once (since the start or the last reset). */
  readonly peakInFlight: number;
  setChunkDelay(ms: number): void;
  setAcceptedKeys(keys: readonly string[] | undefined): void;
  /** Resolves with the first recorded request matching (already there or to come), e.g. `r => r.aborted`. */
  waitForRequest(match?: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
}

export async function startMockProvider(opts: MockProviderOptions = {}): Promise<MockProvider> {
  let latencyMs = opts.latencyMs ?? 0;
  let chunkDelayMs = opts.chunkDelayMs ?? 0;
  let acceptedKeys = opts.acceptedKeys ? new Set(opts.acceptedKeys) : undefined;
  const maxRecorded = opts.maxRecorded ?? 10_000;
  const requests: RecordedRequest[] = [];
  const failures: Array<{ remaining: number; status: number; body?: unknown }> = [];
  const inflight = new Set<AbortController>();
  let peakInFlight = 0;
  const waiters = new Set<(r: RecordedRequest) => boolean>();

  function record(rec: RecordedRequest): void {
    if (maxRecorded <= 0) return;
    requests.push(rec);
    // Trimmed in batches so a long benchmark pays an amortised O(1) per request.
    if (requests.length > maxRecorded * 2) requests.splice(0, requests.length - maxRecorded);
    for (const w of waiters) w(rec);
  }

  function failNext(n: number, status: number, body?: unknown): void {
    if (n > 0) failures.push({ remaining: n, status, body });
  }

  function takeFailure(): { status: number; body?: unknown } | undefined {
    const f = failures[0];
    if (!f) return undefined;
    if (--f.remaining <= 0) failures.shift();
    return f;
  }

  function reset(): void {
    requests.length = 0;
    failures.length = 0;
    peakInFlight = inflight.size;
    latencyMs = opts.latencyMs ?? 0;
    chunkDelayMs = opts.chunkDelayMs ?? 0;
    acceptedKeys = opts.acceptedKeys ? new Set(opts.acceptedKeys) : undefined;
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const raw = req.method === 'POST' ? await readBody(req) : '';
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      if (isObj(parsed)) body = parsed;
    } catch {
      return sendJson(res, 400, { error: 'invalid JSON' });
    }
    if (path === '/__mock/requests' && req.method === 'GET') return sendJson(res, 200, { data: requests });
    if (path === '/__mock/reset' && req.method === 'POST') reset();
    else if (path === '/__mock/fail-next' && req.method === 'POST') {
      failNext(Number(body.n ?? 1), Number(body.status ?? 500), body.body);
    } else if (path === '/__mock/config' && req.method === 'POST') {
      if (typeof body.latencyMs === 'number') latencyMs = body.latencyMs;
      if (typeof body.chunkDelayMs === 'number') chunkDelayMs = body.chunkDelayMs;
    } else return sendJson(res, 404, { error: `unknown control ${req.method} ${path}` });
    sendJson(res, 200, { ok: true });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname;
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path.startsWith('/__mock/')) return control(req, res, path);

    const raw = await readBody(req);
    let body: unknown;
    let badJson = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
        badJson = true;
      }
    }
    const route = matchRoute(method, path);
    const model =
      route?.provider === 'azure'
        ? route.deployment
        : route?.provider === 'gemini' && route.kind === 'method'
          ? route.model
          : isObj(body) && typeof body.model === 'string'
            ? body.model
            : (route?.kind === 'models' && route.provider === 'openai' && route.modelId) || '';
    const rec: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
      time: new Date(),
      provider: route?.provider,
      model: model || undefined,
      aborted: false,
    };
    const ac = new AbortController();
    inflight.add(ac);
    peakInFlight = Math.max(peakInFlight, inflight.size);
    res.on('close', () => {
      if (res.headersSent) rec.status = res.statusCode;
      if (!res.writableFinished && !rec.dropped) rec.aborted = true;
      ac.abort();
      inflight.delete(ac);
      for (const w of waiters) w(rec); // a waiter may be looking for `aborted` or `status`
    });
    record(rec);

    if (!(await sleep(latencyMs, ac.signal))) return;
    const ctx: MockContext = { res, url, body, rec, signal: ac.signal, chunkDelayMs, model, drop: false };
    await dispatch(ctx, route, req, badJson);
    if (res.headersSent) rec.status = res.statusCode;
  }

  async function dispatch(
    ctx: MockContext,
    route: Route | undefined,
    req: IncomingMessage,
    badJson: boolean,
  ) {
    const { res, url } = ctx;
    if (!route) return send(res, notFound(url.pathname, ctx.rec.method));
    const cred = credential(route.provider, req, url);
    if (!cred || (acceptedKeys && !acceptedKeys.has(cred)))
      return send(res, authFailure(route.provider, !!cred));
    if (route.provider === 'azure' && !url.searchParams.get('api-version')) {
      return send(res, {
        status: 400,
        body: azureError(
          400,
          'The api-version query parameter (?api-version=) is required for all requests.',
        ),
      });
    }
    const failure = takeFailure();
    if (failure) return send(res, scriptedFailure(route.provider, failure.status, failure.body));
    if (badJson) {
      const msg = 'We could not parse the JSON body of your request.';
      return send(res, {
        status: 400,
        body:
          route.provider === 'gemini'
            ? geminiError(400, 'Invalid JSON payload received.')
            : openAiError(400, msg),
      });
    }

    const fail = /mock-fail-(\d{3})/.exec(ctx.model);
    if (fail) return send(res, scriptedFailure(route.provider, Number(fail[1])));
    const slow = /mock-slow(?:-(\d+))?/.exec(ctx.model);
    if (slow && !(await sleep(slow[1] ? Number(slow[1]) : 120_000, ctx.signal))) return;
    ctx.drop = ctx.model.includes('mock-drop');

    if (route.provider === 'gemini') {
      return route.kind === 'models' ? handleGeminiModels(ctx) : handleGemini(ctx, route.method);
    }
    if (route.provider === 'azure') {
      return route.kind === 'chat' ? handleChat(ctx, true) : handleEmbeddings(ctx);
    }
    if (route.kind === 'models') return handleModels(ctx, route.modelId);
    return route.kind === 'chat' ? handleChat(ctx, false) : handleEmbeddings(ctx);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, openAiError(500, `mock provider error: ${String(err)}`));
      else res.destroy();
    });
  });
  // Longer than the clients' keep-alive (undici: 4 s) so an idle pooled socket is never closed under a request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;

  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    requests,
    reset,
    failNext,
    setLatency: (ms) => void (latencyMs = ms),
    setChunkDelay: (ms) => void (chunkDelayMs = ms),
    get peakInFlight() {
      return peakInFlight;
    },
    setAcceptedKeys: (keys) => void (acceptedKeys = keys ? new Set(keys) : undefined),
    waitForRequest(match = () => true, timeoutMs = 5_000) {
      const found = requests.find(match);
      if (found) return Promise.resolve(found);
      return new Promise<RecordedRequest>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`mock provider: no matching request within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (r: RecordedRequest) => {
          if (!match(r)) return false;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(r);
          return true;
        };
        waiters.add(waiter);
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const ac of inflight) ac.abort();
      server.closeAllConnections();
      await closed;
    },
  };
}
