import { CliError, EXIT_API_ERROR, usageError } from '../cli-error';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

const TIMEOUT_MS = 30_000;

export const withQuery = (path: string, query: Query = {}): string => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
};

// Why fetch failed, in the words of the OS (ECONNREFUSED, ENOTFOUND...) rather than undici's "fetch failed".
const networkReason = (e: unknown): string => {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  if ((e as { name?: string }).name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
  return cause?.code ?? cause?.message ?? (e as Error).message;
};

// One management service (key-service or usage-service) over REST, with the admin token. Every failure becomes a
// CliError carrying the API's code, message and request id, or CONNECTION_FAILED naming the URL.
export class ApiClient {
  constructor(
    private readonly service: string,
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const res = await this.send(method, path, options);
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      if (res.ok) throw new CliError('BAD_RESPONSE', `${this.service} answered ${path} with non-JSON`, 1);
    }
    if (!res.ok) throw this.apiError(res, parsed, text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  // A streamed body (CSV export): the caller pipes it.
  async stream(path: string, options: RequestOptions = {}): Promise<Response> {
    const res = await this.send('GET', path, options);
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      throw this.apiError(res, parsed, text);
    }
    return res;
  }

  // Called before a prompt, too: a missing token is reported before the user types a secret, not after.
  assertToken(): this {
    if (!this.token)
      throw usageError(
        'no admin token: run `keygate login`, set KEYGATE_TOKEN, or run inside a checkout with `npm run up` running',
      );
    return this;
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Response> {
    this.assertToken();
    const url = `${this.baseUrl}${withQuery(path, options.query)}`;
    try {
      return await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (e) {
      throw new CliError(
        'CONNECTION_FAILED',
        `cannot reach the ${this.service} at ${this.baseUrl} (${networkReason(e)}); set --${
          this.service === 'usage-service' ? 'usage-url' : 'url'
        } or ${this.service === 'usage-service' ? 'KEYGATE_USAGE_URL' : 'KEYGATE_URL'}`,
        EXIT_API_ERROR,
      );
    }
  }

  private apiError(res: Response, parsed: unknown, text: string): CliError {
    const error = (parsed as { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | null)
      ?.error;
    const requestId =
      (typeof error?.requestId === 'string' ? error.requestId : undefined) ??
      res.headers.get('x-request-id') ??
      undefined;
    if (error && typeof error.code === 'string')
      return new CliError(
        error.code,
        typeof error.message === 'string' ? error.message : res.statusText,
        EXIT_API_ERROR,
        requestId,
        res.status,
      );
    return new CliError(
      `HTTP_${res.status}`,
      `${this.service} answered ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`,
      EXIT_API_ERROR,
      requestId,
      res.status,
    );
  }
}
