import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { DomainEvent } from '@keygate/contracts';
import { DomainError } from '../domain-errors';
import { applyToReadModels } from '../read-models/read-models.projector';
import { EventStore, type EventMetadata, type StoredEvent } from './event-store';

export interface Decider<S extends { version: number }, E extends DomainEvent, C, Ctx> {
  initialState: () => S;
  evolve: (state: S, event: E) => S;
  decide: (command: C, state: S, ctx: Ctx) => E[];
}

export interface CommandResult<S> {
  state: S;
  events: StoredEvent[];
}

// The thin shell around every decider: load the stream → fold → decide → append expecting the version
// that was read (and, with If-Match, the version the client saw) → update read models. One transaction.
@Injectable()
export class CommandHandler {
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
    // PostgreSQL's default level, READ COMMITTED: naming it would cost a SET TRANSACTION round trip per write.
    // The append's primary key, not the isolation level, is what keeps concurrent writers apart.
    return this.db.transaction(async (m) => {
      const history = newStream ? [] : await this.store.load(streamId, m);
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
      const events: E[] = [];
      // Several commands (e.g. a PATCH touching details and restrictions) decide in turn and commit together.
      for (const command of Array.isArray(commands) ? commands : [commands]) {
        const decided = decider.decide(command, state, await context(m, state));
        for (const e of decided) state = decider.evolve(state, e);
        events.push(...decided);
      }
      const stored = await this.store.append(m, streamId, readVersion, events, metadata);
      for (const s of stored) await applyToReadModels(m, s);
      return { state, events: stored };
    });
  }
}
