import { dormantDays } from './dormancy';

describe('dormantDays', () => {
  const day = 86_400_000;
  it('reports a use after N quiet days, not before', () => {
    expect(dormantDays(0, 30 * day, 30)).toBe(30);
    expect(dormantDays(0, 30 * day - 1, 30)).toBeNull();
    expect(dormantDays(null, 90 * day, 30)).toBeNull();
    expect(dormantDays(0, 45.5 * day, 30)).toBe(45);
  });
});
