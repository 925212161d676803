import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { classify } from './key-service.client';

const err = (code: status, errorCode?: string, details = 'x'): ServiceError => {
  const metadata = new Metadata();
  if (errorCode) metadata.set('error-code', errorCode);
  return Object.assign(new Error(details), { code, details, metadata });
};

describe('key-service gRPC outcomes for budgets', () => {
  it('treats "already there" as done, a missing or revoked key as gone, the rest as retry', () => {
    expect(classify(err(status.FAILED_PRECONDITION, 'KEY_ALREADY_SUSPENDED'))).toEqual({ kind: 'already' });
    expect(classify(err(status.FAILED_PRECONDITION, 'KEY_NOT_SUSPENDED'))).toEqual({ kind: 'already' });
    expect(classify(err(status.NOT_FOUND, 'KEY_NOT_FOUND'))).toEqual({ kind: 'gone', code: 'KEY_NOT_FOUND' });
    expect(classify(err(status.FAILED_PRECONDITION, 'KEY_REVOKED'))).toEqual({
      kind: 'gone',
      code: 'KEY_REVOKED',
    });
    expect(classify(err(status.UNAVAILABLE))).toMatchObject({ kind: 'retry' });
    expect(classify(err(status.UNAUTHENTICATED, 'UNAUTHENTICATED'))).toMatchObject({ kind: 'retry' });
  });

  it('falls back to the code in the message when the trailer is missing', () => {
    expect(
      classify(
        err(status.FAILED_PRECONDITION, undefined, 'KEY_ALREADY_SUSPENDED: key_1 is already suspended'),
      ),
    ).toEqual({
      kind: 'already',
    });
  });
});
