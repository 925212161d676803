import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { DomainEvent } from '@keygate/contracts';
import { injectTraceHeaders } from '@keygate/messaging';
import { DomainError } from '../domain-errors';
import { applyToReadModels } from '../read-models/read-models.projector';
import { EventStore, type EventMetadata, type StoredEvent, type StreamAppend } from './event-store';

export interface Decider<S extends { version: number }, E extends DomainEvent, C, Ctx> {
  initialState: () => S;
  evolve: (state: S, event: E) => S;
  decide: (command: C, state: S, ctx: Ctx) => E[];
}

export interface CommandResult<S> {
  state: S;
  events: StoredEvent[];
}

// A new stream's decision, waiting for the next group commit.
interface PendingCreate {
  decide: (m: EntityManager) => Promise<{ state: { version: number }; append: StreamAppend }>;
  settled: boolean;
  resolve: (r: CommandResult<{ version: number }>) => void;
  reject: (e: unknown) => void;
}

const MAX_BATCH = 64; // new streams per group commit
const MAX_COMMITS = 4; // group commits in flight at once

// The thin shell around every decider: load the stream → fold → decide → append expecting the version
// that was read (and, with If-Match, the version the client saw) → update read models. One transaction.
//
// New streams (creates) go through a group commit: those that arrive while earlier commits are in flight are
// decided and appended together in one transaction, one statement for all their events. A lone create still
// commits at once; under load the commits, statements and outbox batches per create fall. A create's fate is
// its own: a domain error rejects only that one, and should the shared transaction fail, each is retried alone.
@Injectable()
export class CommandHandler {
  private readonly creates: PendingCreate[] = [];
  private committing = 0;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly store: EventStore,
  ) {}

  async execute<S extends { version: number }, E extends DomainEvent, C, Ctx>(
    decider: Decider<S, E, C, Ctx>,
    streamId: string,
    commands: C | C[],
    context: (m: EntityManager, state: S) => Promise<Ctx>,
    metadata: EventMetadata,
    expectedVersion?: number,
    // The caller has just minted the stream id (a create): there is no history to read. Were there one after
    // all, the append at position 1 would conflict, so skipping the read can never overwrite anything.
    newStream = false,
  ): Promise<CommandResult<S>> {
    if (newStream && expectedVersion === undefined) {
      const traceHeaders = injectTraceHeaders();
      return new Promise<CommandResult<S>>((resolve, reject) => {
        this.creates.push({
          decide: async (m) => {
            const { state, events } = await this.decide(
              decider,
              decider.initialState(),
              commands,
              context,
              m,
            );
            return { state, append: { streamId, expectedVersion: 0, events, metadata, traceHeaders } };
          },
          settled: false,
          resolve: resolve as (r: CommandResult<{ version: number }>) => void,
          reject,
        });
        this.commitCreates();
      });
    }
    // PostgreSQL's default level, READ COMMITTED: naming it would cost a SET TRANSACTION round trip per write.
    // The append's primary key, not the isolation level, is what keeps concurrent writers apart.
    return this.db.transaction(async (m) => {
      const history = await this.store.load(streamId, m);
      let state = decider.initialState();
      for (const e of history) state = decider.evolve(state, { type: e.type, data: e.data } as E);
      if (expectedVersion !== undefined && expectedVersion !== state.version)
        throw new DomainError(
          'VERSION_CONFLICT',
          `${streamId} is at version ${state.version}, not ${expectedVersion}`,
          {
            currentVersion: state.version,
          },
        );
      const readVersion = state.version;
      const decided = await this.decide(decider, state, commands, context, m);
      const stored = await this.store.append(m, streamId, readVersion, decided.events, metadata);
      for (const s of stored) await applyToReadModels(m, s);
      return { state: decided.state, events: stored };
    });
  }

  // Several commands (e.g. a PATCH touching details and restrictions) decide in turn and commit together.
  private async decide<S extends { version: number }, E extends DomainEvent, C, Ctx>(
    decider: Decider<S, E, C, Ctx>,
    state: S,
    commands: C | C[],
    context: (m: EntityManager, state: S) => Promise<Ctx>,
    m: EntityManager,
  ): Promise<{ state: S; events: E[] }> {
    const events: E[] = [];
    for (const command of Array.isArray(commands) ? commands : [commands]) {
      const decided = decider.decide(command, state, await context(m, state));
      for (const e of decided) state = decider.evolve(state, e);
      events.push(...decided);
    }
    return { state, events };
  }

  private commitCreates(): void {
    while (this.committing < MAX_COMMITS && this.creates.length > 0) {
      const batch = this.creates.splice(0, MAX_BATCH);
      this.committing++;
      void this.groupCommit(batch).finally(() => {
        this.committing--;
        this.commitCreates();
      });
    }
  }

  private async groupCommit(batch: PendingCreate[]): Promise<void> {
    let results: { item: PendingCreate; state: { version: number }; events: StoredEvent[] }[];
    try {
      results = await this.db.transaction(async (m) => {
        const decided: { item: PendingCreate; state: { version: number }; append: StreamAppend }[] = [];
        for (const item of batch) {
          try {
            decided.push({ item, ...(await item.decide(m)) });
          } catch (e) {
            if (!(e instanceof DomainError)) throw e;
            item.settled = true;
            item.reject(e);
          }
        }
        const stored = await this.store.appendMany(
          m,
          decided.map((d) => d.append),
        );
        for (const s of stored.flat()) await applyToReadModels(m, s);
        return decided.map((d, i) => ({ item: d.item, state: d.state, events: stored[i] }));
      });
    } catch (e) {
      const open = batch.filter((i) => !i.settled);
      if (batch.length === 1) {
        for (const item of open) item.reject(e);
        return;
      }
      // Whatever failed the shared transaction, each create now commits (or fails) on its own.
      for (const item of open) await this.groupCommit([item]);
      return;
    }
    for (const r of results) {
      r.item.settled = true;
      r.item.resolve({ state: r.state, events: r.events });
    }
  }
}
