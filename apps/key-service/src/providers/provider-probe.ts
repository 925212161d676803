import type { ProviderType } from '@keygate/contracts';
import { outboundFailure, type OutboundFailure, type RoutesConfig } from '@keygate/platform';
import { fetch, type Dispatcher, type Response } from 'undici';

// POST /v1/providers/:id/test: one real, minimal, read-only-ish call to the provider with the stored secret.
// 5 s budget, no redirects (a redirect could carry the credential header elsewhere), and every text that
// leaves here is scrubbed of the secret.

// Why a test failed, for a console or script to act on; `error` says the same in words.
export type ProbeReason =
  | Exclude<OutboundFailure, 'INVALID_URL'>
  | 'NO_TARGET'
  | 'KEY_REFUSED' // 401/403: the provider does not accept this secret
  | 'NOT_FOUND' // 404: wrong deployment, model or base URL
  | 'REDIRECT'
  | 'UPSTREAM_ERROR';

export interface ProbeResult {
  ok: boolean;
  status: number; // upstream HTTP status; 0 when there was no response
  latencyMs: number;
  reason?: ProbeReason;
  error?: string;
}

export interface ProbeTarget {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

export interface ProbeCredential {
  name: string;
  type: ProviderType;
  settings: Record<string, string>;
}

export const PROBE_TIMEOUT_MS = 5_000;
const MAX_ERROR_BODY_BYTES = 16 * 1024;
const DEFAULT_BASE_URL: Record<Exclude<ProviderType, 'azure'>, string> = {
  openai: 'https://api.openai.com/v1',
  gemini: 'https://generativelanguage.googleapis.com',
};
const DEFAULT_AZURE_API_VERSION = '2024-10-21';

const trimSlash = (url: string): string => url.replace(/\/+$/, '');

// Where to call: the credential's own settings win, then the routes.yaml provider that names this credential,
// then the provider's public default. Returns a reason string when there is nothing to call.
export const probeTarget = (
  credential: ProbeCredential,
  secret: string,
  routes: RoutesConfig,
): ProbeTarget | string => {
  const { settings, type } = credential;
  const configured = Object.values(routes.providers).find(
    (p) => p.credential === credential.name && p.type === type,
  );
  switch (type) {
    case 'openai': {
      const base = trimSlash(settings.baseUrl ?? configured?.baseUrl ?? DEFAULT_BASE_URL.openai);
      const headers: Record<string, string> = { authorization: `Bearer ${secret}` };
      if (settings.organization) headers['openai-organization'] = settings.organization;
      return { url: `${base}/models`, method: 'GET', headers };
    }
    case 'gemini': {
      const base = trimSlash(settings.baseUrl ?? configured?.baseUrl ?? DEFAULT_BASE_URL.gemini).replace(
        /\/v1(beta)?$/,
        '',
      );
      return { url: `${base}/v1beta/models`, method: 'GET', headers: { 'x-goog-api-key': secret } };
    }
    case 'azure': {
      const endpoint = settings.endpoint ?? settings.baseUrl ?? configured?.baseUrl;
      if (!endpoint) return 'no endpoint: set settings.endpoint (https://<resource>.openai.azure.com)';
      const apiVersion = encodeURIComponent(
        settings.apiVersion ?? configured?.apiVersion ?? DEFAULT_AZURE_API_VERSION,
      );
      const deployment =
        settings.deployment ??
        Object.values(routes.routes)
          .flatMap((r) => r.targets)
          .find((t) => configured && t.provider === configured.name && t.deployment)?.deployment;
      const headers = { 'api-key': secret, 'content-type': 'application/json' };
      // Without a deployment there is no data-plane call that proves the key; list deployments instead.
      if (!deployment)
        return {
          url: `${trimSlash(endpoint)}/openai/deployments?api-version=${apiVersion}`,
          method: 'GET',
          headers,
        };
      return {
        url: `${trimSlash(endpoint)}/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${apiVersion}`,
        method: 'POST',
        headers,
        body: JSON.stringify({ messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }),
      };
    }
    default: {
      const unknown: never = type;
      return `unsupported provider type ${String(unknown)}`;
    }
  }
};

// Removes the secret and any 8+ character piece of it (providers echo partial keys in their errors).
export const scrub = (text: string, secret: string): string => {
  if (!secret) return text;
  let out = text.split(secret).join('***');
  const min = Math.min(8, secret.length);
  for (let i = 0; i + min <= out.length; i++) {
    let j = i + min;
    if (!secret.includes(out.slice(i, j))) continue;
    while (j < out.length && secret.includes(out.slice(i, j + 1))) j++;
    out = `${out.slice(0, i)}***${out.slice(j)}`;
    i += 2;
  }
  return out;
};

const readCapped = async (res: Response): Promise<string> => {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_ERROR_BODY_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY_BYTES);
};

const upstreamMessage = (body: string): string | undefined => {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const m =
      typeof parsed.error === 'string'
        ? parsed.error
        : (parsed.error?.message ?? (typeof parsed.message === 'string' ? parsed.message : undefined));
    return typeof m === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
};

// Precise but generic: the kind of failure, never the library's text (addresses, ports, resolver output).
const NETWORK_ERROR: Record<Exclude<OutboundFailure, 'INVALID_URL'>, string> = {
  HOST_NOT_FOUND: 'host not found (DNS)',
  ADDRESS_NOT_ALLOWED: 'the host resolves to an address that is not allowed (ALLOW_PRIVATE_UPSTREAMS)',
  CONNECTION_REFUSED: 'connection refused',
  CONNECTION_RESET: 'connection reset',
  TIMEOUT: `no answer within ${PROBE_TIMEOUT_MS} ms`,
  TLS_ERROR: 'TLS error: the certificate or TLS handshake was refused',
  CONNECTION_FAILED: 'connection failed',
};

const networkFailure = (e: unknown): Pick<ProbeResult, 'reason' | 'error'> => {
  const failure = outboundFailure(e);
  const reason = failure === 'INVALID_URL' ? 'CONNECTION_FAILED' : failure;
  return { reason, error: NETWORK_ERROR[reason] };
};

const httpFailure = (status: number): { reason: ProbeReason; text: string } => {
  if (status === 401 || status === 403)
    return { reason: 'KEY_REFUSED', text: `the provider refused the key (HTTP ${status})` };
  if (status === 404)
    return { reason: 'NOT_FOUND', text: 'not found (HTTP 404): check the deployment, model or base URL' };
  return { reason: 'UPSTREAM_ERROR', text: `the provider answered ${status}` };
};

// Scrubbed before the final cut, which could otherwise leave a fragment the scrubber no longer recognises.
const safeText = (s: string, secret: string): string => {
  const clean = scrub(s.slice(0, 1000), secret);
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
};

export const runProbe = async (
  target: ProbeTarget | string,
  secret: string,
  dispatcher: Dispatcher,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> => {
  if (typeof target === 'string')
    return { ok: false, status: 0, latencyMs: 0, reason: 'NO_TARGET', error: target };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(target.url, {
      method: target.method,
      headers: target.headers,
      body: target.body,
      redirect: 'manual',
      dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: true, status: res.status, latencyMs: elapsed() };
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => undefined);
      return {
        ok: false,
        status: res.status,
        latencyMs: elapsed(),
        reason: 'REDIRECT',
        error: 'the provider answered with a redirect; redirects are not followed',
      };
    }
    const detail = upstreamMessage(await readCapped(res).catch(() => ''));
    const latencyMs = elapsed();
    const { reason, text } = httpFailure(res.status);
    const error = safeText(`${text}${detail ? `: ${detail}` : ''}`, secret);
    return { ok: false, status: res.status, latencyMs, reason, error };
  } catch (e) {
    return { ok: false, status: 0, latencyMs: elapsed(), ...networkFailure(e) };
  }
};
