import type { Dispatcher } from 'undici';
import { fromException, type UpstreamError } from './upstream-error';

// Why an exchange released before its answer ended was aborted (the consumer stopped, or read all it wanted).
const RELEASED = new Error('released');
// A stream's bytes waiting for their reader beyond which the upstream connection is paused (a Readable's default).
const HIGH_WATER = 64 * 1024;

/**
 * One upstream request's lifetime: undici's dispatch handler for it, its one timer and its link to the client's
 * signal. Through `Pool.dispatch` the answer arrives as callbacks; `Pool.request` would wrap them in a Readable
 * body, a promise per chunk and an AbortSignal listener per request (≈ 5 µs of CPU per request in-process).
 * - The timer runs only while the gateway waits on the upstream: for the status (connect and pool queueing
 *   included), then for each chunk; never while a consumer holds a chunk it was given.
 * - `stream`: the connection is paused while HIGH_WATER bytes wait for their reader, and resumed when the reader
 *   has taken them, so a slow client holds the upstream socket, never the gateway's memory.
 * - abort() (timeout, client gone, consumer done early) closes the upstream request; one still queued in the pool
 *   is aborted the moment it is dispatched. A normal end leaves the socket to the pool.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  status = 0;
  private controller: Dispatcher.DispatchController | null = null;
  private chunks: Buffer[] = [];
  private size = 0;
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private waiting = false;
  private timedOut = false;
  private readonly onClientAbort = (): void => this.abort(asError(this.client.reason));
  private readonly expire = (): void => {
    if (!this.waiting) return; // it ran out while the consumer held a chunk: not a wait on the upstream
    this.timedOut = true;
    this.abort(new Error('upstream timeout'));
  };

  constructor(
    private readonly client: AbortSignal,
    private readonly timeoutMs: number,
    private readonly stream: boolean,
  ) {
    client.addEventListener('abort', this.onClientAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.failure) controller.abort(this.failure);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
    this.notify();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.stream && this.size >= HIGH_WATER) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.notify();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.failure ??= error;
    this.notify();
  }

  /** The answer's status, once it is in. */
  async started(): Promise<number> {
    await this.until(() => this.status !== 0);
    return this.status;
  }

  /** The whole body, or its first `limit` bytes (and then the rest is not read). */
  async whole(limit = Infinity): Promise<Buffer> {
    await this.until(() => this.ended || this.size > limit);
    if (!this.ended) this.abort(RELEASED);
    return Buffer.concat(this.chunks, this.size);
  }

  /** The body's next bytes as they came (one or more chunks), or null at its end. */
  async next(): Promise<Buffer | null> {
    await this.until(() => this.chunks.length > 0 || this.ended);
    if (this.chunks.length === 0) return null;
    const bytes = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return bytes;
  }

  private abort(reason: Error): void {
    if (this.ended || this.failure) return;
    this.failure = reason;
    this.controller?.abort(reason);
    this.notify();
  }

  failed(err: unknown = this.failure): UpstreamError {
    return fromException(err, { timedOut: this.timedOut, clientAborted: this.client.aborted });
  }

  /** Done with the answer: an unfinished one is aborted (its socket closed, the upstream sees it); after a normal
   * end the socket goes back to the pool. The timer and the client's listener go. */
  dispose(): void {
    this.abort(RELEASED);
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.onClientAbort);
  }

  // Waits, with the timer armed, until `ready` (what has arrived is enough) or the exchange failed. A paused
  // stream is resumed: its reader wants more.
  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failure) throw this.failed();
      this.arm();
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      this.controller?.resume(); // may deliver what it held at once: the wake is set first
      await woken;
      this.waiting = false;
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private arm(): void {
    this.waiting = true;
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(this.expire, this.timeoutMs);
  }
}

const asError = (reason: unknown): Error =>
  reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
