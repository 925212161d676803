// usage-service's errors are values with a stable code (STYLE.md), like key-service's: services throw them, the
// management error filter (libs/platform) maps the code to its HTTP status through usageErrorStatus. Messages go to
// clients: never put a secret in one.
// Direct paths, not the platform index: this file stays free of Nest and telemetry.
import type { AdminAuthErrorCode } from '@keygate/platform/admin-auth/admin-authenticator';
import { CodedError } from '@keygate/platform/errors/coded-error';
import { codedErrorMapper, serviceErrorOf } from '@keygate/platform/errors/service-errors';

export type UsageErrorCode =
  // Raised by the management kit's admin-token authentication (AdminAuthError).
  | AdminAuthErrorCode
  | 'VALIDATION_FAILED'
  | 'ALERT_NOT_FOUND'
  | 'WEBHOOK_NOT_FOUND'
  | 'REQUEST_NOT_FOUND'
  // A webhook URL whose host does not resolve, or resolves to an address keygate may not call.
  | 'HOST_NOT_FOUND'
  | 'ADDRESS_NOT_ALLOWED';

export class UsageError extends CodedError<UsageErrorCode> {
  override readonly name = 'UsageError';
}

// HTTP status per code. A Record over the union is as exhaustive as key-service's switch: a code missing here, or
// one that is not in the union, does not compile.
const USAGE_ERROR_STATUS: Record<UsageErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  ALERT_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  // The body parses, but names somewhere keygate will not send to.
  HOST_NOT_FOUND: 422,
  ADDRESS_NOT_ALLOWED: 422,
};

export const usageErrorStatus = (code: UsageErrorCode): number => USAGE_ERROR_STATUS[code];

export const usageErrorMapper = codedErrorMapper(serviceErrorOf(UsageError), usageErrorStatus);
