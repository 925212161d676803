import { context } from '@opentelemetry/api';
import type { EventEnvelope } from '@keygate/contracts';
import { foldBatch, type FoldResult } from './batched-fold';
import type { IncomingEvent } from './event-consumer';

interface Doc {
  v: number;
  names: string[];
}

const incoming = (
  type: string,
  data: Record<string, unknown>,
  v: number,
  schemaVersion = 1,
): IncomingEvent => ({
  envelope: {
    type,
    data,
    streamPosition: v,
    schemaVersion,
    time: '2026-01-01T00:00:00Z',
  } as unknown as EventEnvelope,
  partition: 0,
  offset: String(v),
  trace: context.active(),
});

const evolveGroup = (doc: Doc | null, e: { type: string; data: unknown }, v: number): Doc | null => {
  const name = (e.data as { name?: string }).name ?? '?';
  if (e.type === 'GroupCreated') return { v, names: [name] };
  return doc && { v, names: [...doc.names, name] };
};

const run = async (events: IncomingEvent[], stored: Doc[] = []) => {
  const outcomes: string[] = [];
  let result: FoldResult<{ group: Doc }> | undefined;
  let loaded: string[] = [];
  await foldBatch<{ group: Doc }>(
    events,
    { group: evolveGroup },
    async (ids, fold) => {
      loaded = ids.group;
      result = fold({ group: new Map(stored.map((d) => [`grp_${d.names[0]}`, d])) });
    },
    (_e, outcome) => outcomes.push(outcome),
  );
  return { outcomes, result: result!, loaded };
};

describe('foldBatch', () => {
  it('loads each touched document once and folds the batch in order', async () => {
    const { result, loaded, outcomes } = await run([
      incoming('GroupCreated', { groupId: 'grp_a', name: 'a' }, 1),
      incoming('GroupUpdated', { groupId: 'grp_a', name: 'b' }, 2),
    ]);
    expect(loaded).toEqual(['grp_a']);
    expect(result.changed.group).toEqual([{ v: 2, names: ['a', 'b'] }]);
    expect(result.applied.map((a) => a.event.type)).toEqual(['GroupCreated', 'GroupUpdated']);
    expect(outcomes).toEqual(['applied', 'applied']);
  });

  it('skips what the document already holds: redelivery and replay change nothing', async () => {
    const { result, outcomes } = await run(
      [
        incoming('GroupCreated', { groupId: 'grp_a', name: 'a' }, 1),
        incoming('GroupUpdated', { groupId: 'grp_a', name: 'b' }, 2),
      ],
      [{ v: 2, names: ['a', 'b'] }],
    );
    expect(result.changed.group).toEqual([]);
    expect(outcomes).toEqual(['skipped', 'skipped']);
  });

  it('ignores other aggregates, unknown types and newer schema versions', async () => {
    const { result, outcomes } = await run([
      incoming('KeyRevoked', { keyId: 'key_1', reason: 'x' }, 1),
      incoming('SomethingNew', { groupId: 'grp_a' }, 1),
      incoming('GroupCreated', { groupId: 'grp_a', name: 'a' }, 1, 99),
      incoming('GroupCreated', { name: 'no id' }, 1),
    ]);
    expect(outcomes).toEqual(['ignored', 'ignored', 'ignored', 'ignored']);
    expect(result.applied).toEqual([]);
  });

  it('an event for a document that does not exist changes nothing', async () => {
    const { outcomes } = await run([incoming('GroupUpdated', { groupId: 'grp_z', name: 'b' }, 2)]);
    expect(outcomes).toEqual(['skipped']);
  });
});
