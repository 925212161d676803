// Errors are values with a stable code (STYLE.md). Each service narrows C to its own code union and maps every
// code to a status with one exhaustive table per transport; the kit's own errors (AdminAuthError) carry codes that
// every service's union must include, so a table that forgets them does not compile.
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type CodedErrorClass<C extends string> = abstract new (...args: never[]) => CodedError<C>;
