// Request routing and the provider-specific refusals (unknown path, missing or wrong credential,
// scripted failure), kept apart from the server loop in mock-provider.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { geminiError, scriptedGeminiFailure } from './gemini';
import { sendJson, type ProviderKind } from './mock-http';
import { azureError, openAiError, scriptedOpenAiFailure, type ErrorReply } from './openai';

export type Route =
  | { provider: 'openai'; kind: 'chat' | 'embeddings' | 'models'; modelId?: string }
  | { provider: 'azure'; kind: 'chat' | 'embeddings'; deployment: string }
  | { provider: 'gemini'; kind: 'models' }
  | { provider: 'gemini'; kind: 'method'; model: string; method: string };

const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const GEMINI_PATH = /^\/v1(?:beta)?\/models\/([^/:]+):([A-Za-z]+)$/;
const OPENAI_MODEL_PATH = /^\/v1\/models\/([^/]+)$/;

export function matchRoute(method: string, path: string): Route | undefined {
  if (method === 'POST') {
    if (path === '/v1/chat/completions') return { provider: 'openai', kind: 'chat' };
    if (path === '/v1/embeddings') return { provider: 'openai', kind: 'embeddings' };
    let m = AZURE_PATH.exec(path);
    if (m)
      return {
        provider: 'azure',
        kind: m[2] === 'embeddings' ? 'embeddings' : 'chat',
        deployment: decode(m[1]),
      };
    m = GEMINI_PATH.exec(path);
    if (m) return { provider: 'gemini', kind: 'method', model: decode(m[1]), method: m[2] };
  } else if (method === 'GET') {
    if (path === '/v1/models') return { provider: 'openai', kind: 'models' };
    if (path === '/v1beta/models') return { provider: 'gemini', kind: 'models' };
    const m = OPENAI_MODEL_PATH.exec(path);
    if (m) return { provider: 'openai', kind: 'models', modelId: decode(m[1]) };
  }
  return undefined;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? s : undefined;
}

export function credential(provider: ProviderKind, req: IncomingMessage, url: URL): string | undefined {
  if (provider === 'openai')
    return /^Bearer\s+(\S.*)$/i.exec(header(req, 'authorization') ?? '')?.[1]?.trim();
  if (provider === 'azure') return header(req, 'api-key');
  return header(req, 'x-goog-api-key') ?? (url.searchParams.get('key') || undefined);
}

export function authFailure(provider: ProviderKind, present: boolean): ErrorReply {
  if (provider === 'openai') {
    return present
      ? { status: 401, body: openAiError(401, 'Incorrect API key provided.', 'invalid_api_key') }
      : {
          status: 401,
          body: openAiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          ),
        };
  }
  if (provider === 'azure') {
    const message =
      'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';
    return { status: 401, body: azureError(401, message) };
  }
  return present
    ? { status: 400, body: geminiError(400, 'API key not valid. Please pass a valid API key.') }
    : {
        status: 403,
        body: geminiError(
          403,
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ),
      };
}

export function notFound(path: string, method: string): ErrorReply {
  if (path.startsWith('/v1beta/')) return { status: 404, body: geminiError(404, `Path ${path} not found.`) };
  if (path.startsWith('/openai/')) return { status: 404, body: azureError(404, 'Resource not found') };
  return { status: 404, body: openAiError(404, `Invalid URL (${method} ${path})`) };
}

export function scriptedFailure(provider: ProviderKind, status: number, body?: unknown): ErrorReply {
  const reply =
    provider === 'gemini'
      ? scriptedGeminiFailure(status)
      : scriptedOpenAiFailure(status, provider === 'azure');
  return body === undefined ? reply : { ...reply, body };
}

export function send(res: ServerResponse, reply: ErrorReply): void {
  sendJson(res, reply.status, reply.body, reply.headers);
}
