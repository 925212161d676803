import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Topics } from '@keygate/contracts';
import { EventConsumer, foldBatch, type IncomingEvent } from '@keygate/messaging';
import { counter, gauge } from '@keygate/platform';
import {
  evolveAdminToken,
  evolveGroup,
  evolveKey,
  type AdminTokenEntry,
  type GroupEntry,
  type KeyEntry,
} from './key-directory.evolve';
import { KeyDirectoryStore } from './key-directory.store';
import { BackgroundConsumer } from '../background/background-consumer';

const applied = counter('keygate_usage_key_events_total', 'keys.events applied to the key directory', [
  'result',
]);
const lag = gauge('keygate_usage_key_directory_lag_seconds', 'Age of the last key event applied');

interface Directory {
  apiKey: KeyEntry;
  group: GroupEntry;
  adminToken: AdminTokenEntry;
}

const evolvers = { apiKey: evolveKey, group: evolveGroup, adminToken: evolveAdminToken };

// Folds keys.events into key_directory, group_directory and admin_tokens, in its own consumer group (usage-service
// must see every event, whatever the gateway's projection does). One transaction per batch; offsets after it.
@Injectable()
export class KeyDirectoryConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('key-directory');
  private readonly store = new KeyDirectoryStore();
  private readonly runner: BackgroundConsumer;

  constructor(
    private readonly db: DataSource,
    consumer: EventConsumer,
    private readonly groupId: string,
    private readonly sessionTimeout: number,
    private readonly positionNewGroup: () => Promise<void> = async () => undefined,
  ) {
    this.runner = new BackgroundConsumer('key-directory', consumer);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.positionNewGroup();
    this.runner.start({
      groupId: this.groupId,
      topics: [Topics.keysEvents],
      fromBeginning: true,
      sessionTimeout: this.sessionTimeout,
      handle: (events) => this.apply(events),
      onMalformed: (_raw, reason, meta) => {
        applied.inc({ result: 'malformed' });
        this.logger.warn({ ...meta, reason }, 'skipped a malformed key event');
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }

  // One transaction per batch: load the touched entries, fold, save what changed.
  async apply(events: IncomingEvent[]): Promise<void> {
    await foldBatch<Directory>(
      events,
      evolvers,
      (ids, fold) =>
        this.db.transaction(async (m) => {
          const { changed } = fold({
            apiKey: await this.store.loadKeys(m, ids.apiKey),
            group: await this.store.loadGroups(m, ids.group),
            adminToken: await this.store.loadAdminTokens(m, ids.adminToken),
          });
          await this.store.saveKeys(m, changed.apiKey);
          await this.store.saveGroups(m, changed.group);
          await this.store.saveAdminTokens(m, changed.adminToken);
        }),
      (_e, result) => applied.inc({ result }),
    );
    const last = events[events.length - 1];
    if (last) lag.set((Date.now() - Date.parse(last.envelope.time)) / 1000);
  }
}
