// Exit codes a script can rely on: 0 ok, 1 the API (or the network) said no, 2 the command line is wrong.
export const EXIT_OK = 0;
export const EXIT_API_ERROR = 1;
export const EXIT_USAGE = 2;

// A failure the CLI reports as `error CODE: message (request req_…)`, and as `{ "error": {...} }` with --json.
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
    readonly requestId?: string,
    readonly status?: number,
  ) {
    super(message);
  }

  toJSON(): { error: { code: string; message: string; requestId?: string; status?: number } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.requestId ? { requestId: this.requestId } : {}),
        ...(this.status ? { status: this.status } : {}),
      },
    };
  }
}

// The command line itself is wrong: a bad option value, a missing token, a secret passed the wrong way.
export const usageError = (message: string): CliError => new CliError('USAGE', message, EXIT_USAGE);
