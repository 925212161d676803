import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { isKeyEventType, KEY_EVENTS_SCHEMA_VERSION, Topics, type DomainEvent } from '@keygate/contracts';
import { EventConsumer, type IncomingEvent } from '@keygate/messaging';
import { counter, gauge } from '@keygate/platform';
import {
  aggregateOf,
  evolveAdminToken,
  evolveGroup,
  evolveKey,
  isAdminTokenEvent,
  isGroupEvent,
  isKeyEvent,
} from './key-directory.evolve';
import { KeyDirectoryStore } from './key-directory.store';
import { BackgroundConsumer } from '../background/background-consumer';

const applied = counter('keygate_usage_key_events_total', 'keys.events applied to the key directory', [
  'result',
]);
const lag = gauge('keygate_usage_key_directory_lag_seconds', 'Age of the last key event applied');

interface Folded {
  event: DomainEvent;
  v: number;
  at: string;
}

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

  async apply(events: IncomingEvent[]): Promise<void> {
    const folded: Folded[] = [];
    for (const { envelope } of events) {
      const usable =
        isKeyEventType(envelope.type) &&
        envelope.schemaVersion <= KEY_EVENTS_SCHEMA_VERSION &&
        typeof envelope.data === 'object' &&
        envelope.data !== null;
      const event = usable ? ({ type: envelope.type, data: envelope.data } as DomainEvent) : null;
      if (!event || !aggregateOf(event)?.id) {
        applied.inc({ result: 'ignored' });
        continue;
      }
      folded.push({ event, v: envelope.streamPosition, at: envelope.time });
    }
    if (folded.length > 0) await this.fold(folded);
    const last = events[events.length - 1];
    if (last) lag.set((Date.now() - Date.parse(last.envelope.time)) / 1000);
  }

  private async fold(items: Folded[]): Promise<void> {
    const ids = (kind: string) =>
      [...new Set(items.map((i) => aggregateOf(i.event)).filter((a) => a?.kind === kind))].map((a) => a!.id);
    await this.db.transaction(async (m) => {
      const keys = await this.store.loadKeys(m, ids('key'));
      const groups = await this.store.loadGroups(m, ids('group'));
      const tokens = await this.store.loadAdminTokens(m, ids('adminToken'));
      const changed = { keys: new Set<string>(), groups: new Set<string>(), tokens: new Set<string>() };
      // Folds one event into its map; true when the document changed.
      const step = <T>(
        map: Map<string, T>,
        id: string,
        evolve: (doc: T | null) => T | null,
        set: Set<string>,
      ) => {
        const before = map.get(id) ?? null;
        const next = evolve(before);
        if (!next || next === before) return false;
        map.set(id, next);
        set.add(id);
        return true;
      };
      for (const { event, v, at } of items) {
        let done = false;
        if (isKeyEvent(event))
          done = step(keys, event.data.keyId, (d) => evolveKey(d, event, v, at), changed.keys);
        else if (isGroupEvent(event))
          done = step(groups, event.data.groupId, (d) => evolveGroup(d, event, v, at), changed.groups);
        else if (isAdminTokenEvent(event))
          done = step(tokens, event.data.tokenId, (d) => evolveAdminToken(d, event, v, at), changed.tokens);
        applied.inc({ result: done ? 'applied' : 'skipped' });
      }
      await this.store.saveKeys(
        m,
        [...changed.keys].map((id) => keys.get(id)!),
      );
      await this.store.saveGroups(
        m,
        [...changed.groups].map((id) => groups.get(id)!),
      );
      await this.store.saveAdminTokens(
        m,
        [...changed.tokens].map((id) => tokens.get(id)!),
      );
    });
  }
}
