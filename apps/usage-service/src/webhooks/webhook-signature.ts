import { createHmac, timingSafeEqual } from 'node:crypto';

// `x-keygate-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is signed
// with the body so a captured delivery cannot be replayed later than the receiver's tolerance.
export const SIGNATURE_HEADER = 'x-keygate-signature';
export const DELIVERY_HEADER = 'x-keygate-delivery';

export const signPayload = (secret: string, timestamp: number, body: string): string =>
  `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

// What a receiver does (and what the tests do): recompute over the raw body, compare in constant time.
export const verifySignature = (
  secret: string,
  header: string | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean => {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, t, body).split('v1=')[1], 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
};

// Exponential backoff with ±20% jitter, capped: attempt 1 → ~base, 2 → ~2·base, 3 → ~4·base…
export const retryDelayMs = (
  attempt: number,
  baseMs: number,
  maxMs: number,
  random = Math.random(),
): number => Math.round(Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1)) * (0.8 + 0.4 * random));
