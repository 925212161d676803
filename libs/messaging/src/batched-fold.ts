import {
  aggregateOf,
  KEY_EVENTS_SCHEMA_VERSION,
  type AggregateEvent,
  type AggregateKind,
  type DomainEvent,
} from '@keygate/contracts';
import type { IncomingEvent } from './event-consumer';

// The one batched "load → evolve → save" fold of keys.events (STYLE.md: folds are written once). The gateway's
// Redis projection and usage-service's key directory are each a set of evolve functions plus a persist step.
// The projection rule lives here: an event whose stream position is not newer than its document's is skipped,
// so redelivery, replay from offset 0 and racing consumers all end in the same state.

export interface Versioned {
  v: number; // stream position of the last event folded into the document
}

type Docs = Partial<Record<AggregateKind, Versioned>>;
type Kinds<D extends Docs> = keyof D & AggregateKind;

// One aggregate's fold: the next document, or null when the event changes nothing (e.g. no document yet).
export type Evolvers<D extends Docs> = {
  [K in Kinds<D>]: (doc: D[K] | null, event: AggregateEvent<K>, v: number, at: string) => D[K] | null;
};

export type DocMaps<D extends Docs> = { [K in Kinds<D>]: Map<string, D[K]> };

export interface FoldedEvent<D extends Docs> {
  kind: Kinds<D>;
  id: string;
  event: DomainEvent;
  incoming: IncomingEvent;
  before: D[Kinds<D>] | null;
  after: D[Kinds<D>];
}

export interface FoldResult<D extends Docs> {
  // The documents that changed, newest state, per kind.
  changed: { [K in Kinds<D>]: D[K][] };
  // The events that changed a document, in order.
  applied: FoldedEvent<D>[];
}

export type FoldOutcome = 'applied' | 'skipped' | 'ignored';

// `persist` receives the ids to load per kind and a fold to run on the loaded documents; it saves the result (in
// one transaction or pipeline of its own). `observe` sees every event's outcome (metrics, spans).
export const foldBatch = async <D extends Docs>(
  events: IncomingEvent[],
  evolvers: Evolvers<D>,
  persist: (ids: { [K in Kinds<D>]: string[] }, fold: (docs: DocMaps<D>) => FoldResult<D>) => Promise<void>,
  observe?: (e: IncomingEvent, outcome: FoldOutcome) => void,
): Promise<void> => {
  const kinds = Object.keys(evolvers) as Kinds<D>[];
  const ids = Object.fromEntries(kinds.map((k) => [k, new Set<string>()])) as Record<Kinds<D>, Set<string>>;
  const usable: { e: IncomingEvent; kind: Kinds<D>; id: string; event: DomainEvent }[] = [];
  for (const e of events) {
    const { type, data, schemaVersion } = e.envelope;
    const aggregate = schemaVersion <= KEY_EVENTS_SCHEMA_VERSION ? aggregateOf({ type, data }) : null;
    if (!aggregate || !(aggregate.kind in ids)) {
      observe?.(e, 'ignored');
      continue;
    }
    const kind = aggregate.kind as Kinds<D>;
    ids[kind].add(aggregate.id);
    usable.push({ e, kind, id: aggregate.id, event: { type, data } as DomainEvent });
  }
  const idLists = Object.fromEntries(kinds.map((k) => [k, [...ids[k]]])) as { [K in Kinds<D>]: string[] };
  await persist(idLists, (docs) => {
    const changed = Object.fromEntries(kinds.map((k) => [k, new Set<string>()])) as Record<
      Kinds<D>,
      Set<string>
    >;
    const applied: FoldedEvent<D>[] = [];
    for (const { e, kind, id, event } of usable) {
      const map = docs[kind] as Map<string, Versioned>;
      const before = map.get(id) ?? null;
      const v = e.envelope.streamPosition;
      const evolve = evolvers[kind] as (
        d: Versioned | null,
        ev: DomainEvent,
        v: number,
        at: string,
      ) => Versioned | null;
      const after = before && before.v >= v ? null : evolve(before, event, v, e.envelope.time);
      if (!after || after === before) {
        observe?.(e, 'skipped');
        continue;
      }
      map.set(id, after);
      changed[kind].add(id);
      applied.push({ kind, id, event, incoming: e, before, after } as FoldedEvent<D>);
      observe?.(e, 'applied');
    }
    const changedDocs = Object.fromEntries(
      kinds.map((k) => [k, [...changed[k]].map((id) => (docs[k] as Map<string, unknown>).get(id))]),
    ) as FoldResult<D>['changed'];
    return { changed: changedDocs, applied };
  });
};
