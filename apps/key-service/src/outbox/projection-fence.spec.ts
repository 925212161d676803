import { caughtUp } from './projection-fence';

describe('the projection fence: has a gateway group caught up?', () => {
  const ends = new Map<number, bigint>([
    [0, 0n], // never held an event
    [1, 5n],
    [2, 3n],
  ]);

  it('waits for every partition that holds events', () => {
    expect(
      caughtUp(
        [
          [0, -1n],
          [1, 5n],
          [2, 2n],
        ],
        ends,
      ),
    ).toBe(false);
    expect(
      caughtUp(
        [
          [0, -1n],
          [1, 4n],
          [2, 3n],
        ],
        ends,
      ),
    ).toBe(false);
    expect(
      caughtUp(
        [
          [0, -1n],
          [1, -1n],
          [2, 3n],
        ],
        ends,
      ),
    ).toBe(false);
  });

  it('needs no commit on a partition that never held an event', () => {
    expect(
      caughtUp(
        [
          [0, -1n],
          [1, 5n],
          [2, 3n],
        ],
        ends,
      ),
    ).toBe(true);
    expect(
      caughtUp(
        [
          [0, 0n],
          [1, 6n],
          [2, 3n],
        ],
        ends,
      ),
    ).toBe(true);
  });

  it('does not wait for a group that never committed anything (no gateway behind it)', () => {
    expect(
      caughtUp(
        [
          [0, -1n],
          [1, -1n],
          [2, -1n],
        ],
        ends,
      ),
    ).toBe(true);
  });
});
