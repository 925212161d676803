import type { FastifyReply } from 'fastify';

// Every gateway error in OpenAI's shape, so OpenAI SDKs surface it as they would OpenAI's own.
export interface OpenAiError {
  status: number;
  message: string;
  type: string;
  code: string;
  param?: string | null;
  headers?: Record<string, string>;
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_denied',
  404: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'rate_limit_exceeded',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_error',
};

export const openAiError = (
  status: number,
  code: string,
  message: string,
  extra: Partial<OpenAiError> = {},
): OpenAiError => ({
  status,
  code,
  message,
  type: TYPE_BY_STATUS[status] ?? 'api_error',
  param: null,
  ...extra,
});

// The gateway cannot record usage: its memory buffer and its journal of unsent usage events are full (Kafka has been
// away for long). Refused before anything billable happens.
export const USAGE_BACKLOG_FULL: OpenAiError = openAiError(
  503,
  'usage_backlog_full',
  'The gateway cannot record usage right now (its backlog of unsent usage events is full); retry shortly.',
  { headers: { 'retry-after': '5' } },
);

export const sendOpenAiError = (reply: FastifyReply, e: OpenAiError): void => {
  if (e.headers) void reply.headers(e.headers);
  void reply
    .status(e.status)
    .header('content-type', 'application/json')
    .send({ error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } });
};
