import { isBoolean, isIn, isInt, isISO8601, isString, max, maxLength, min } from 'class-validator';
import type { RequestCompletedData } from '@keygate/contracts';

type Check = (v: unknown) => boolean;

const optional =
  (check: Check): Check =>
  (v) =>
    v === null || v === undefined || check(v);
const str =
  (length: number): Check =>
  (v) =>
    isString(v) && maxLength(v, length);
const int =
  (lo: number, hi?: number): Check =>
  (v) =>
    isInt(v) && min(v, lo) && (hi === undefined || max(v, hi));

// The decorators of RequestCompletedData (libs/contracts), as plain checks built from class-validator's own
// functions: same rules, ~30× faster than plainToInstance + validateSync, which dominated ingestion time.
// request-completed.validator.spec.ts keeps the two in agreement.
const RULES: [keyof RequestCompletedData, Check][] = [
  ['requestId', str(64)],
  ['keyId', optional(str(64))],
  ['route', optional(str(128))],
  ['provider', optional(str(128))],
  ['upstreamModel', optional(str(128))],
  ['endpoint', str(64)],
  ['status', int(0, 999)],
  ['outcome', (v) => isIn(v, ['success', 'upstream_error', 'rejected'])],
  ['errorCode', optional(str(64))],
  ['promptTokens', int(0)],
  ['completionTokens', int(0)],
  ['streamed', isBoolean],
  ['latencyMs', int(0)],
  ['clientIp', optional(str(64))],
  ['time', (v) => isISO8601(v)],
];

// What the ledger's columns can hold (integer): a larger count is valid by the contract but would fail the batch
// insert on every redelivery, a poison message. Refused with a reason instead.
export const INT4_MAX = 2_147_483_647;
export const unstorable = (d: RequestCompletedData): string[] =>
  (['promptTokens', 'completionTokens', 'latencyMs'] as const).filter((k) => d[k] > INT4_MAX);

// The properties that fail, in declaration order; empty when the payload is a valid RequestCompleted.
export const requestCompletedProblems = (data: unknown): string[] => {
  const o = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  return RULES.filter(([name, check]) => !check(o[name])).map(([name]) => name);
};
