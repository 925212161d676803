// A store that does not answer is a 503 (gRPC UNAVAILABLE) with a clear message, not a 500. PostgreSQL going away
// shows up in many shapes depending on the moment (refused, reset, shut down mid-query, a pooled client that lost
// its socket), and TypeORM wraps some of them (driverError): the whole family, wherever in the chain, is a
// dependency outage. Every transport's error filter asks this one check.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|ECONNREFUSED|ECONNRESET|timeout exceeded when trying to connect|not queryable|Client was closed|terminating connection|database system is (shutting down|starting up|in recovery mode)/i;

export const DEPENDENCY_UNAVAILABLE = {
  code: 'DEPENDENCY_UNAVAILABLE',
  message: 'a storage dependency is unavailable; nothing was changed, retry later',
} as const;

export const isDependencyUnavailable = (e: unknown, depth = 0): boolean => {
  if (!e || typeof e !== 'object' || depth > 4) return false;
  const { code, message, driverError, cause } = e as {
    code?: unknown;
    message?: unknown;
    driverError?: unknown;
    cause?: unknown;
  };
  return (
    (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
    (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) ||
    isDependencyUnavailable(driverError, depth + 1) ||
    isDependencyUnavailable(cause, depth + 1)
  );
};
