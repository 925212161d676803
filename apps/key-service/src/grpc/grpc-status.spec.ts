import { status } from '@grpc/grpc-js';
import { domainErrorStatus, type DomainErrorCode } from '../domain-errors';
import { grpcStatusOf } from './grpc-status';

// REST and gRPC answer the same error the same way: the status families must agree code by code.
const HTTP_TO_GRPC_FAMILY: Record<number, status[]> = {
  400: [status.INVALID_ARGUMENT],
  401: [status.UNAUTHENTICATED],
  403: [status.PERMISSION_DENIED],
  404: [status.NOT_FOUND],
  409: [status.ALREADY_EXISTS, status.FAILED_PRECONDITION],
  412: [status.FAILED_PRECONDITION],
  422: [status.INVALID_ARGUMENT],
  503: [status.FAILED_PRECONDITION, status.UNAVAILABLE],
};

const ALL_CODES: DomainErrorCode[] = [
  'KEY_NOT_FOUND',
  'KEY_ALREADY_EXISTS',
  'KEY_ALREADY_REVOKED',
  'KEY_REVOKED',
  'KEY_DELETED',
  'KEY_NOT_SUSPENDED',
  'KEY_ALREADY_SUSPENDED',
  'KEY_ALREADY_IN_GROUP',
  'KEY_NOT_IN_GROUP',
  'GROUP_NOT_FOUND',
  'GROUP_ALREADY_EXISTS',
  'GROUP_IN_USE',
  'UNKNOWN_GROUP',
  'UNKNOWN_ROUTE',
  'UNKNOWN_TIER',
  'INVALID_CIDR',
  'INVALID_EXPIRY',
  'VALIDATION_FAILED',
  'VERSION_CONFLICT',
  'PROVIDER_NOT_FOUND',
  'PROVIDER_ALREADY_EXISTS',
  'PROVIDER_IN_USE',
  'PROVIDER_SECRET_REQUIRED',
  'ADDRESS_NOT_ALLOWED',
  'ADMIN_TOKEN_NOT_FOUND',
  'ADMIN_TOKEN_ALREADY_EXISTS',
  'ADMIN_TOKEN_ALREADY_REVOKED',
  'MASTER_KEY_NOT_CONFIGURED',
  'CREDENTIAL_UNREADABLE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
];

describe('grpcStatusOf', () => {
  it.each(ALL_CODES)('maps %s consistently with its HTTP status', (code) => {
    expect(HTTP_TO_GRPC_FAMILY[domainErrorStatus(code)]).toContain(grpcStatusOf(code));
  });

  it('uses the statuses issue 3 names', () => {
    expect(grpcStatusOf('VERSION_CONFLICT')).toBe(status.FAILED_PRECONDITION);
    expect(grpcStatusOf('KEY_ALREADY_REVOKED')).toBe(status.FAILED_PRECONDITION);
    expect(grpcStatusOf('GROUP_ALREADY_EXISTS')).toBe(status.ALREADY_EXISTS);
    expect(grpcStatusOf('INVALID_CIDR')).toBe(status.INVALID_ARGUMENT);
    expect(grpcStatusOf('FORBIDDEN')).toBe(status.PERMISSION_DENIED);
  });
});
