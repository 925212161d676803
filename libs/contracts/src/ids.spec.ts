import { hasPrefix, newId } from './ids';

describe('newId', () => {
  it('is the prefix, 8 time characters and 14 random base62 characters', () => {
    for (let i = 0; i < 1000; i++) expect(hasPrefix(newId('req'), 'req')).toBe(true);
    expect(newId('key', 0).slice(4, 12)).toBe('00000000');
  });

  it('sorts by creation time', () => {
    const times = [0, 1, 61, 62, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
    const ids = times.map((t) => newId('grp', t));
    expect([...ids].sort()).toEqual(ids);
  });

  it('does not repeat, and uses the whole alphabet evenly', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('req', 1));
    expect(new Set(ids).size).toBe(ids.length);
    const counts = new Map<string, number>();
    for (const id of ids) for (const c of id.slice(12)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (20_000 * 14) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.1);
  });
});
