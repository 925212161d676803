import { status } from '@grpc/grpc-js';
import type { DomainErrorCode } from '../domain-errors';

// gRPC status per domain code (the REST twin is domainErrorStatus). Exhaustive: a new code does not compile
// until it is mapped here too.
export const grpcStatusOf = (code: DomainErrorCode): status => {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'UNKNOWN_GROUP':
    case 'UNKNOWN_ROUTE':
    case 'UNKNOWN_TIER':
    case 'INVALID_CIDR':
    case 'INVALID_EXPIRY':
    case 'PROVIDER_SECRET_REQUIRED':
    case 'ADDRESS_NOT_ALLOWED':
      return status.INVALID_ARGUMENT;
    case 'UNAUTHENTICATED':
      return status.UNAUTHENTICATED;
    case 'FORBIDDEN':
      return status.PERMISSION_DENIED;
    case 'KEY_NOT_FOUND':
    case 'KEY_DELETED':
    case 'KEY_NOT_IN_GROUP':
    case 'GROUP_NOT_FOUND':
    case 'PROVIDER_NOT_FOUND':
    case 'ADMIN_TOKEN_NOT_FOUND':
      return status.NOT_FOUND;
    // Something with this identity or name is already there.
    case 'KEY_ALREADY_EXISTS':
    case 'KEY_ALREADY_IN_GROUP':
    case 'GROUP_ALREADY_EXISTS':
    case 'PROVIDER_ALREADY_EXISTS':
    case 'ADMIN_TOKEN_ALREADY_EXISTS':
      return status.ALREADY_EXISTS;
    // The resource is in a state the operation does not accept (issue 3: VERSION_CONFLICT is one of them).
    case 'KEY_ALREADY_REVOKED':
    case 'KEY_REVOKED':
    case 'KEY_NOT_SUSPENDED':
    case 'KEY_ALREADY_SUSPENDED':
    case 'GROUP_IN_USE':
    case 'PROVIDER_IN_USE':
    case 'ADMIN_TOKEN_ALREADY_REVOKED':
    case 'VERSION_CONFLICT':
      return status.FAILED_PRECONDITION;
    // Deployment configuration, not retryable until an operator acts: not UNAVAILABLE, which invites retries.
    case 'MASTER_KEY_NOT_CONFIGURED':
    case 'CREDENTIAL_UNREADABLE':
    case 'SECRET_SCANNING_NOT_CONFIGURED':
      return status.FAILED_PRECONDITION;
    default: {
      const unmapped: never = code;
      throw new Error(`unmapped domain error code ${String(unmapped)}`);
    }
  }
};
