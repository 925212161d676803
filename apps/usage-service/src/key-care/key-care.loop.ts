import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PollLoop } from '../background/poll-loop';

export interface KeyCareSweep {
  runOnce(): Promise<boolean>;
}

// Runs the key-care sweeps (dormancy, rotation reminders) every KEY_CARE_TICK_MS. Several instances may sweep at
// once: a repeated SuspendKey answers KEY_ALREADY_SUSPENDED and alerts are deduplicated.
export class KeyCareLoop implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop: PollLoop;

  constructor(
    sweeps: KeyCareSweep[],
    tickMs: number,
    private readonly onShutdown: () => void = () => undefined,
  ) {
    this.loop = new PollLoop(
      'key-care',
      async () => {
        let more = false;
        for (const s of sweeps) more = (await s.runOnce()) || more;
        return more;
      },
      tickMs,
    );
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    this.onShutdown();
  }
}
