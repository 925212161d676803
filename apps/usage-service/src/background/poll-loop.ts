import { Logger } from '@nestjs/common';

// A background worker: runs `tick` until it reports no more work, then sleeps `intervalMs` or until woken.
// Errors back off exponentially (to 30 s) and never end the loop. Several instances may run the same loop:
// every tick claims its rows with SKIP LOCKED or a lease, so they share the work.
export class PollLoop {
  private readonly logger: Logger;
  private running = false;
  private done?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;

  constructor(
    name: string,
    private readonly tick: () => Promise<boolean>,
    private readonly intervalMs: number,
  ) {
    this.logger = new Logger(name);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.run();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.done;
  }

  private async run(): Promise<void> {
    let backoff = 0;
    while (this.running) {
      let more = false;
      this.woken = false;
      try {
        more = await this.tick();
        backoff = 0;
      } catch (e) {
        backoff = Math.min(backoff ? backoff * 2 : 500, 30_000);
        this.logger.warn(`tick failed, retrying in ${backoff} ms: ${(e as Error).message}`);
      }
      if (!more || backoff) await this.sleep(backoff || this.intervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
