import createClient, { type Middleware } from 'openapi-fetch';
import type { paths as KeyServicePaths } from './key-service';
import type { paths as UsageServicePaths } from './usage-service';
import { currentToken, signOut } from './session';

// Bearer token on every call; a 401 (revoked, wrong or expired token) signs the console out.
const auth: Middleware = {
  onRequest({ request }) {
    const token = currentToken();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) signOut();
    return response;
  },
};

export const keyService = createClient<KeyServicePaths>({ baseUrl: window.location.origin });
keyService.use(auth);

let usage: ReturnType<typeof createClient<UsageServicePaths>> | undefined;
// The usage-service's URL comes from GET /v1/console/config (the deployment knows it, the bundle does not).
export const usageService = (baseUrl: string) => {
  if (!usage) {
    usage = createClient<UsageServicePaths>({ baseUrl });
    usage.use(auth);
  }
  return usage;
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// The management error shape: { error: { code, message, requestId } }.
export const unwrap = async <T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> => {
  const { data, error, response } = await call;
  if (!response.ok) {
    const e = (error as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(
      response.status,
      e?.code ?? `HTTP_${response.status}`,
      e?.message ?? response.statusText,
    );
  }
  return data as T;
};

export const errorText = (e: unknown): string =>
  e instanceof ApiError
    ? e.status === 412
      ? 'This was changed elsewhere — reload and try again.'
      : `${e.message} (${e.code})`
    : e instanceof Error
      ? e.message
      : String(e);
