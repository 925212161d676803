import type { EventEnvelope } from '@keygate/contracts';
import { latestUseByKey } from './last-used.fold';

const completed = (keyId: string | null, time: string, type = 'RequestCompleted'): EventEnvelope =>
  ({ type, data: { keyId, time } }) as unknown as EventEnvelope;

describe('latestUseByKey', () => {
  it('keeps the latest time per key, whatever the order', () => {
    const folded = latestUseByKey([
      completed('key_a', '2026-12-01T10:05:00.000Z'),
      completed('key_b', '2026-12-01T09:00:00.000Z'),
      completed('key_a', '2026-12-01T10:01:00.000Z'),
    ]);
    expect([...folded].map(([k, d]) => [k, d.toISOString()])).toEqual([
      ['key_a', '2026-12-01T10:05:00.000Z'],
      ['key_b', '2026-12-01T09:00:00.000Z'],
    ]);
  });

  it('skips requests without a key, other event types and unreadable times', () => {
    const folded = latestUseByKey([
      completed(null, '2026-12-01T10:05:00.000Z'),
      completed('key_a', 'yesterday'),
      completed('key_a', '2026-12-01T10:05:00.000Z', 'SomethingElse'),
      completed('not-a-key', '2026-12-01T10:05:00.000Z'),
    ]);
    expect(folded.size).toBe(0);
  });
});
