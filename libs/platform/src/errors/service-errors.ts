import { AdminAuthError, type AdminAuthErrorCode } from '../admin-auth/admin-authenticator';
import type { ErrorMapper } from '../http/management-error.filter';
import type { CodedError, CodedErrorClass } from './coded-error';

// A service's coded errors: its own class, plus the kit's AdminAuthError. The service's code union must include
// AdminAuthErrorCode, or the table given to codedErrorMapper does not compile.
export const serviceErrorOf =
  <C extends string>(own: CodedErrorClass<C>) =>
  (e: unknown): CodedError<C | AdminAuthErrorCode> | null =>
    e instanceof own || e instanceof AdminAuthError ? e : null;

// What ManagementErrorFilter is given: the service's errors and its one exhaustive code → HTTP status table.
export const codedErrorMapper =
  <C extends string>(
    errorOf: (e: unknown) => CodedError<C> | null,
    statusOf: (code: C) => number,
  ): ErrorMapper =>
  (e) => {
    const coded = errorOf(e);
    return coded
      ? { code: coded.code, status: statusOf(coded.code), message: coded.message, details: coded.details }
      : null;
  };
