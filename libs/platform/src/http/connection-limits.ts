import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { newRequestId } from './request-id';

// What the HTTP server does with slow, idle and malformed connections, before any route runs.

export interface HttpTimeouts {
  headersTimeoutMs: number; // the request line and headers must arrive within this (slowloris)
  requestTimeoutMs: number; // the whole request, body included (slow uploads)
  // An idle keep-alive connection is closed after this. Longer than the 60 s idle timeout of common load
  // balancers, so the server is never the side that closes a connection the balancer is about to reuse.
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
};

// The body of an error Node's HTTP parser raises (oversized headers, malformed or smuggling-shaped requests,
// a request timeout), in the service's own shape: management `{ error: { code, message, requestId } }` by default,
// OpenAI's on the gateway.
export type ClientErrorBody = (status: number, code: string, message: string) => unknown;

const CLIENT_ERRORS: Record<number, [code: string, message: string]> = {
  400: ['BAD_REQUEST', 'malformed HTTP request'],
  408: ['REQUEST_TIMEOUT', 'the request did not arrive in time'],
  431: ['HEADERS_TOO_LARGE', 'request headers too large'],
};

export const managementClientError: ClientErrorBody = (_status, code, message) => ({
  error: { code, message, requestId: newRequestId() },
});

const clientErrorHandler =
  (body: ClientErrorBody) =>
  (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const [code, message] = CLIENT_ERRORS[status];
    const payload = JSON.stringify(body(status, code, message));
    if (socket.writable)
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
    socket.destroy();
  };

// Fastify server options. Node checks the headers and request deadlines every connectionsCheckingInterval
// (30 s by default, far coarser than the deadlines): once a second here.
export const connectionLimits = (timeouts: HttpTimeouts, clientError: ClientErrorBody) => {
  const requestTimeout = timeouts.requestTimeoutMs;
  const headersTimeout = Math.min(timeouts.headersTimeoutMs, requestTimeout); // Node refuses headers > request
  return {
    requestTimeout,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    http: { headersTimeout, connectionsCheckingInterval: 1_000 },
    clientErrorHandler: clientErrorHandler(clientError),
  };
};
