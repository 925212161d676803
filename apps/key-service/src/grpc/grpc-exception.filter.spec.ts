import { status } from '@grpc/grpc-js';
import { lastValueFrom } from 'rxjs';
import { AdminAuthError } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { type GrpcError, GrpcExceptionFilter } from './grpc-exception.filter';

const answer = async (exception: unknown) => {
  const e = (await lastValueFrom(new GrpcExceptionFilter().catch(exception)).catch(
    (err: unknown) => err,
  )) as GrpcError;
  return { code: e.code, details: e.details, errorCode: e.metadata.get('error-code')[0] };
};

describe('GrpcExceptionFilter', () => {
  it("answers the management kit's admin-token errors like key-service's own", async () => {
    expect(
      await answer(new AdminAuthError('UNAUTHENTICATED', 'the admin token is invalid or revoked')),
    ).toEqual({
      code: status.UNAUTHENTICATED,
      details: 'UNAUTHENTICATED: the admin token is invalid or revoked',
      errorCode: 'UNAUTHENTICATED',
    });
    expect(await answer(new AdminAuthError('FORBIDDEN', 'auditor tokens may only read'))).toMatchObject({
      code: status.PERMISSION_DENIED,
      errorCode: 'FORBIDDEN',
    });
    expect(await answer(new DomainError('KEY_NOT_FOUND', 'key k not found'))).toMatchObject({
      code: status.NOT_FOUND,
      errorCode: 'KEY_NOT_FOUND',
    });
  });

  it('answers a store that does not answer with UNAVAILABLE, anything else with a bare INTERNAL', async () => {
    const down = {
      message: 'QueryFailedError',
      driverError: Object.assign(new Error('x'), { code: '57P01' }),
    };
    expect(await answer(down)).toEqual({
      code: status.UNAVAILABLE,
      details:
        'DEPENDENCY_UNAVAILABLE: a storage dependency is unavailable; nothing was changed, retry later',
      errorCode: 'DEPENDENCY_UNAVAILABLE',
    });
    expect(await answer(new TypeError('secret-looking detail'))).toEqual({
      code: status.INTERNAL,
      details: 'INTERNAL: internal error',
      errorCode: 'INTERNAL',
    });
  });
});
