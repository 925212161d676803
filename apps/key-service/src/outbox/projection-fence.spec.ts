import { caughtUp } from './projection-fence';

describe('the projection fence: has a gateway group caught up?', () => {
  // Partition 0 never held an event; 1 and 2 end at offsets 5 and 3.
  const ends = new Map<number, bigint>([
    [0, 0n],
    [1, 5n],
    [2, 3n],
  ]);
  // A group's committed offsets, partition by partition (-1: nothing committed there).
  const committed = (...offsets: number[]) => offsets.map((o, p) => [p, BigInt(o)] as const);

  it.each([[[-1, 5, 2]], [[-1, 4, 3]], [[-1, -1, 3]]])(
    'waits for every partition that holds events: %j is behind',
    (offsets) => {
      expect(caughtUp(committed(...offsets), ends)).toBe(false);
    },
  );

  it.each([[[-1, 5, 3]], [[0, 6, 3]]])(
    'needs no commit on a partition that never held an event: %j has caught up',
    (offsets) => {
      expect(caughtUp(committed(...offsets), ends)).toBe(true);
    },
  );

  it('does not wait for a group that never committed anything (no gateway behind it)', () => {
    expect(caughtUp(committed(-1, -1, -1), ends)).toBe(true);
  });
});
