// Small node:http helpers shared by the provider handlers. No framework: the mock is the latency floor of
// the benchmarks, so every request path stays a few function calls deep.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

export type ProviderKind = 'openai' | 'azure' | 'gemini';

export interface RecordedRequest {
  method: string;
  /** The path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  query: Record<string, string>;
  /** As node gives them: names lowercased. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  time: Date;
  provider?: ProviderKind;
  /** OpenAI: body.model; Azure: the deployment; Gemini: the model in the URL. */
  model?: string;
  /** The status sent, once the response has started. */
  status?: number;
  /** The client went away before the response was complete. */
  aborted: boolean;
  /** The mock cut the connection on purpose (model `mock-drop`). */
  dropped?: boolean;
}

export interface MockContext {
  res: ServerResponse;
  url: URL;
  body: unknown;
  rec: RecordedRequest;
  /** Aborted when the client goes away or the mock closes. */
  signal: AbortSignal;
  chunkDelayMs: number;
  /** The model, or the Azure deployment. */
  model: string;
  /** `mock-drop`: cut the connection half-way through (before any byte when not streaming). */
  drop: boolean;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Resolves true after `ms`, false as soon as the signal aborts (so a `mock-slow` never outlives its client). */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8');
}

/**
 * Cuts the connection without finishing the response. Ends the socket rather than destroying it so the
 * chunks already written (node corks them until the next tick) still reach the client first.
 */
export function dropConnection(ctx: MockContext): void {
  ctx.rec.dropped = true;
  const socket = ctx.res.socket;
  if (!socket) return void ctx.res.destroy();
  socket.end();
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Writes a streamed body piece by piece: waits the chunk delay between pieces, honours back-pressure and
 * reports false once the client has gone, so the handler stops producing.
 */
export class ChunkWriter {
  private started = false;

  constructor(private readonly ctx: MockContext) {}

  async send(text: string): Promise<boolean> {
    const { res, signal } = this.ctx;
    if (this.started && !(await sleep(this.ctx.chunkDelayMs, signal))) return false;
    this.started = true;
    if (signal.aborted || res.destroyed) return false;
    if (!res.write(text)) {
      try {
        await once(res, 'drain', { signal });
      } catch {
        return false;
      }
    }
    return true;
  }

  end(): void {
    if (!this.ctx.res.destroyed) this.ctx.res.end();
  }
}

export function randomId(length: number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[(Math.random() * 62) | 0];
  return s;
}
