import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { onResubscribed } from '../redis/redis-client';

const RETRY_MS = 1000;

// Keeps an in-process copy (group routes, provider credentials) in step with Redis when a change notice was
// missed: reloads it on start, after every pub/sub reconnect, and every `everyMs`; a failed reload is retried
// a second later, never swallowed. One reload at a time.
export class Reconciler {
  private readonly logger: Logger;
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    name: string,
    private readonly reload: () => Promise<void>,
    private readonly everyMs: number,
  ) {
    this.logger = new Logger(name);
  }

  async start(subscriber: Redis): Promise<void> {
    onResubscribed(subscriber, () => void this.request());
    this.timer = setInterval(() => void this.request(), this.everyMs);
    this.timer.unref();
    await this.request();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
  }

  request(): Promise<void> {
    this.running ??= this.reload()
      .catch((e: unknown) => {
        this.logger.warn(`reload failed, retrying in ${RETRY_MS} ms: ${(e as Error).message}`);
        clearTimeout(this.retry);
        if (!this.stopped) this.retry = setTimeout(() => void this.request(), RETRY_MS).unref();
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
