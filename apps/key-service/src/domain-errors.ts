// Domain errors are values with a stable code (STYLE.md): deciders throw them, one filter per transport maps the
// code to HTTP / gRPC / OpenAI shapes. Messages and details go to clients: never put a secret in either.
// Direct paths, not the platform index: deciders import this file and stay free of Nest and telemetry.
import type { AdminAuthErrorCode } from '@keygate/platform/admin-auth/admin-authenticator';
import { CodedError } from '@keygate/platform/errors/coded-error';
import { codedErrorMapper, serviceErrorOf } from '@keygate/platform/errors/service-errors';

export type DomainErrorCode =
  // Raised by the management kit's admin-token authentication (AdminAuthError), REST and gRPC alike.
  | AdminAuthErrorCode
  | 'KEY_NOT_FOUND'
  | 'KEY_ALREADY_EXISTS'
  | 'KEY_ALREADY_REVOKED'
  | 'KEY_REVOKED'
  // Not thrown by the decider (a deleted key answers KEY_NOT_FOUND, as if gone); kept for read paths that want
  // to tell "deleted" apart, e.g. the audit view.
  | 'KEY_DELETED'
  | 'KEY_NOT_SUSPENDED'
  | 'KEY_ALREADY_SUSPENDED'
  | 'KEY_ALREADY_IN_GROUP'
  | 'KEY_NOT_IN_GROUP'
  | 'GROUP_NOT_FOUND'
  | 'GROUP_ALREADY_EXISTS'
  | 'GROUP_IN_USE'
  | 'UNKNOWN_GROUP'
  | 'UNKNOWN_ROUTE'
  | 'UNKNOWN_TIER'
  | 'INVALID_CIDR'
  | 'INVALID_EXPIRY'
  | 'VALIDATION_FAILED'
  | 'VERSION_CONFLICT'
  | 'PROVIDER_NOT_FOUND'
  | 'PROVIDER_ALREADY_EXISTS'
  | 'PROVIDER_IN_USE'
  // A provider URL change without the secret: a stored secret only goes where an admin sent it with the secret.
  | 'PROVIDER_SECRET_REQUIRED'
  // A provider URL resolving to a loopback, private or link-local address (ALLOW_PRIVATE_UPSTREAMS).
  | 'ADDRESS_NOT_ALLOWED'
  | 'ADMIN_TOKEN_NOT_FOUND'
  | 'ADMIN_TOKEN_ALREADY_EXISTS'
  | 'ADMIN_TOKEN_ALREADY_REVOKED'
  // KEYGATE_MASTER_KEY is not set (provider credentials cannot be encrypted) or does not open a stored credential.
  | 'MASTER_KEY_NOT_CONFIGURED'
  | 'CREDENTIAL_UNREADABLE'
  // GITHUB_SECRET_SCANNING_KEYS is not set, or its keys cannot be loaded.
  | 'SECRET_SCANNING_NOT_CONFIGURED';

export class DomainError extends CodedError<DomainErrorCode> {
  override readonly name = 'DomainError';
}

const domainErrorOf = serviceErrorOf(DomainError);

// A DomainError, or the kit's AdminAuthError: both carry a DomainErrorCode.
export const isDomainError = (error: unknown): error is CodedError<DomainErrorCode> =>
  domainErrorOf(error) !== null;

// HTTP status per code; the exhaustive switch makes a new code a compile error until it is mapped here.
export const domainErrorStatus = (code: DomainErrorCode): number => {
  switch (code) {
    case 'VALIDATION_FAILED':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'KEY_NOT_FOUND':
    case 'KEY_DELETED':
    case 'KEY_NOT_IN_GROUP': // the membership /v1/keys/:id/groups/:groupId is the missing resource
    case 'GROUP_NOT_FOUND':
    case 'PROVIDER_NOT_FOUND':
    case 'ADMIN_TOKEN_NOT_FOUND':
      return 404;
    case 'KEY_ALREADY_EXISTS':
    case 'KEY_ALREADY_REVOKED':
    case 'KEY_REVOKED':
    case 'KEY_NOT_SUSPENDED':
    case 'KEY_ALREADY_SUSPENDED':
    case 'KEY_ALREADY_IN_GROUP':
    case 'GROUP_ALREADY_EXISTS':
    case 'GROUP_IN_USE':
    case 'PROVIDER_ALREADY_EXISTS':
    case 'PROVIDER_IN_USE':
    case 'ADMIN_TOKEN_ALREADY_EXISTS':
    case 'ADMIN_TOKEN_ALREADY_REVOKED':
      return 409;
    case 'VERSION_CONFLICT':
      return 412;
    // Well-formed requests that reference something unknown or break a rule: 422, not 404 (the resource in the
    // path exists) and not 400 (the body parses).
    case 'UNKNOWN_GROUP':
    case 'UNKNOWN_ROUTE':
    case 'UNKNOWN_TIER':
    case 'INVALID_CIDR':
    case 'INVALID_EXPIRY':
    case 'PROVIDER_SECRET_REQUIRED':
    case 'ADDRESS_NOT_ALLOWED':
      return 422;
    // A deployment problem, not the caller's: nothing was changed, an operator must fix the configuration.
    case 'MASTER_KEY_NOT_CONFIGURED':
    case 'CREDENTIAL_UNREADABLE':
    case 'SECRET_SCANNING_NOT_CONFIGURED':
      return 503;
    default: {
      const unmapped: never = code;
      throw new Error(`unmapped domain error code ${String(unmapped)}`);
    }
  }
};

// The management error filter's view of key-service's errors (REST); grpcStatusOf is the gRPC table.
export const domainErrorMapper = codedErrorMapper(domainErrorOf, domainErrorStatus);
