import { AdminAuthError } from '../admin-auth/admin-authenticator';
import { CodedError } from './coded-error';
import { codedErrorMapper, serviceErrorOf } from './service-errors';

type ThingCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'THING_NOT_FOUND';
class ThingError extends CodedError<ThingCode> {}
const THING_STATUS: Record<ThingCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  THING_NOT_FOUND: 404,
};
const thingStatus = (code: ThingCode) => THING_STATUS[code];

class OtherError extends CodedError<'OTHER'> {}

describe('codedErrorMapper', () => {
  const map = codedErrorMapper(serviceErrorOf(ThingError), thingStatus);

  it("maps the service's own errors and the kit's AdminAuthError through the service's table", () => {
    expect(map(new ThingError('THING_NOT_FOUND', 'thing t1 not found', { thingId: 't1' }))).toEqual({
      code: 'THING_NOT_FOUND',
      status: 404,
      message: 'thing t1 not found',
      details: { thingId: 't1' },
    });
    expect(map(new AdminAuthError('FORBIDDEN', 'auditor tokens may only read'))).toMatchObject({
      code: 'FORBIDDEN',
      status: 403,
    });
  });

  it("leaves everything else to the filter's generic rules", () => {
    expect(map(new OtherError('OTHER', 'x'))).toBeNull();
    expect(map(new Error('boom'))).toBeNull();
    expect(map({ code: 'THING_NOT_FOUND', message: 'a plain object is not a coded error' })).toBeNull();
  });

  it('refuses, at compile time, a code outside the union and a table that forgets the kit codes', () => {
    // @ts-expect-error not a ThingCode
    expect(() => new ThingError('NOT_A_CODE', 'x')).not.toThrow();
    // @ts-expect-error not a ThingCode: the table has no row for it
    expect(thingStatus('NOT_A_CODE')).toBeUndefined();
    // @ts-expect-error a Record table must list every code of the union
    const incomplete: Record<ThingCode, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403 };
    expect(incomplete).toBeDefined();
    // A service whose codes leave out UNAUTHENTICATED/FORBIDDEN cannot map the kit's AdminAuthError.
    class NarrowError extends CodedError<'ONLY_THIS'> {}
    const narrowStatus = (_code: 'ONLY_THIS') => 400;
    // @ts-expect-error the table must take AdminAuthErrorCode too
    expect(codedErrorMapper(serviceErrorOf(NarrowError), narrowStatus)).toBeInstanceOf(Function);
  });
});
