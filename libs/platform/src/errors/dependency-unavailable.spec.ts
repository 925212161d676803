import { isDependencyUnavailable } from './dependency-unavailable';

describe('isDependencyUnavailable', () => {
  it('recognises a store that does not answer, by code or by message', () => {
    const byCode = ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '53300'];
    for (const code of byCode)
      expect(isDependencyUnavailable(Object.assign(new Error('x'), { code }))).toBe(true);
    expect(isDependencyUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDependencyUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDependencyUnavailable(new Error('the database system is starting up'))).toBe(true);
  });

  it('looks through driverError (TypeORM) and cause, a few levels deep', () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isDependencyUnavailable({ message: 'QueryFailedError', driverError: down })).toBe(true);
    expect(isDependencyUnavailable(new Error('wrapped', { cause: new Error('x', { cause: down }) }))).toBe(
      true,
    );
    let deep: unknown = down;
    for (let i = 0; i < 6; i++) deep = { message: 'wrapper', cause: deep };
    expect(isDependencyUnavailable(deep)).toBe(false);
  });

  it('is not fooled by ordinary failures', () => {
    expect(isDependencyUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDependencyUnavailable(new TypeError('x is undefined'))).toBe(false);
    for (const v of [undefined, null, 'ECONNREFUSED', 42]) expect(isDependencyUnavailable(v)).toBe(false);
  });
});
