import {
  hasPrefix,
  redactApiKeys,
  type Budget,
  type BudgetPeriod,
  type RateLimit,
  type RouteLimit,
} from '@keygate/contracts';
import { DomainError } from '../domain-errors';
import { normalizeCidrList } from './cidr';

// Input rules for the key decider. REST DTOs validate shapes too, but gRPC and internal callers (usage-service
// suspending a key) reach the decider without them, so the decider is where the rules are guaranteed.

export const KEY_LIMITS = {
  name: 128,
  description: 1024,
  reason: 500,
  metadataEntries: 50,
  metadataKey: 64,
  metadataValue: 512,
  ipEntries: 256,
  rotationPeriodDays: 3650,
  dormantAfterDays: 3650,
  perMinute: 1_000_000_000,
  concurrentRequests: 100_000,
  // The ranges REST and gRPC accept for a key's own numbers (their DTO) and for each of its per-route limits.
  requestsPerMinute: 10_000_000,
  tokensPerMinute: 1_000_000_000,
  routeLimits: 50,
  routeName: 128,
} as const;

const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month'];
// A positive decimal with at most 6 fractional digits (micro-dollars, as the usage ledger counts).
const DECIMAL_USD = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/;
// ISO-8601 instant with an explicit offset: `new Date()` alone would accept "2030" or locale strings.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export const invalidField = (field: string, reason: string): DomainError =>
  new DomainError('VALIDATION_FAILED', `${field} ${reason}`, { field });

export const requireText = (field: string, value: unknown, max: number, allowEmpty = false): string => {
  if (typeof value !== 'string') throw invalidField(field, 'must be a string');
  const text = value.trim();
  if (!allowEmpty && text === '') throw invalidField(field, 'must not be empty');
  if (text.length > max) throw invalidField(field, `must be at most ${max} characters`);
  return text;
};

export const requireKeyId = (value: unknown): string => {
  if (typeof value !== 'string' || !hasPrefix(value, 'key'))
    throw invalidField('keyId', 'must be a key_… id');
  return value;
};

// Guards "the plaintext never enters the decider": a caller passing the key itself instead of its hash fails here.
export const requireHash = (value: unknown): string => {
  if (typeof value !== 'string' || !SHA256_HEX.test(value))
    throw invalidField('hash', 'must be a hex SHA-256');
  return value;
};

export const requireLast4 = (value: unknown): string => {
  if (typeof value !== 'string' || !/^[0-9A-Za-z]{4}$/.test(value)) {
    throw invalidField('last4', 'must be 4 base62 characters');
  }
  return value;
};

export const requireMetadata = (value: unknown): Record<string, string> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidField('metadata', 'must be an object of strings');
  }
  const entries = Object.entries(value);
  if (entries.length > KEY_LIMITS.metadataEntries) {
    throw invalidField('metadata', `must have at most ${KEY_LIMITS.metadataEntries} entries`);
  }
  for (const [key, item] of entries) {
    if (key === '' || key.length > KEY_LIMITS.metadataKey) {
      throw invalidField('metadata', `keys must be 1-${KEY_LIMITS.metadataKey} characters`);
    }
    if (typeof item !== 'string' || item.length > KEY_LIMITS.metadataValue) {
      throw invalidField(
        `metadata.${key}`,
        `must be a string of at most ${KEY_LIMITS.metadataValue} characters`,
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
};

export const requireRotationPeriod = (value: unknown): number | null => {
  if (value === null) return null;
  if (
    !Number.isInteger(value) ||
    (value as number) < 1 ||
    (value as number) > KEY_LIMITS.rotationPeriodDays
  ) {
    throw invalidField(
      'rotationPeriodDays',
      `must be null or an integer from 1 to ${KEY_LIMITS.rotationPeriodDays}`,
    );
  }
  return value as number;
};

// null: the deployment's default; 0: never suspended for disuse.
export const requireDormancy = (value: unknown): number | null => {
  if (value === null) return null;
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > KEY_LIMITS.dormantAfterDays)
    throw invalidField(
      'dormantAfterDays',
      `must be an integer from 0 (never) to ${KEY_LIMITS.dormantAfterDays}, or null (the default)`,
    );
  return value as number;
};

export const requireReason = (value: unknown): string => requireText('reason', value, KEY_LIMITS.reason);

// A leak report's source is outside text: whatever in it looks like a key is masked before it is stored.
export const requireSource = (value: unknown): string =>
  redactApiKeys(requireText('source', value, KEY_LIMITS.reason));

export const requireGracePeriod = (value: unknown): number => {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw invalidField('gracePeriodSeconds', 'must be an integer ≥ 0');
  }
  return value as number;
};

// Returns the canonical ISO string, or null for "never expires".
export const requireExpiry = (value: unknown, now: Date): string | null => {
  if (value === null) return null;
  if (typeof value !== 'string' || !ISO_INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalidField('expiresAt', 'must be an ISO-8601 instant with an offset, or null');
  }
  const expiresAt = new Date(value);
  if (expiresAt.getTime() <= now.getTime()) {
    throw new DomainError('INVALID_EXPIRY', 'expiresAt must be in the future', {
      expiresAt: expiresAt.toISOString(),
      now: now.toISOString(),
    });
  }
  return expiresAt.toISOString();
};

export const requireIpList = (field: 'ipAllow' | 'ipDeny', value: unknown): string[] => {
  if (!Array.isArray(value)) throw invalidField(field, 'must be an array of CIDR ranges');
  if (value.length > KEY_LIMITS.ipEntries)
    throw invalidField(field, `must have at most ${KEY_LIMITS.ipEntries} entries`);
  return normalizeCidrList(value as string[]);
};

const requirePerMinute = (field: string, value: unknown): number => {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > KEY_LIMITS.perMinute) {
    throw invalidField(`rateLimit.${field}`, 'must be a positive integer');
  }
  return value as number;
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const requireRouteLimit = (route: string, value: unknown): RouteLimit => {
  const field = `rateLimit.routes.${route}`;
  if (!isObject(value)) throw invalidField(field, 'must be an object');
  const { requestsPerMinute, tokensPerMinute, ...rest } = value as RouteLimit;
  if (Object.keys(rest).length > 0)
    throw invalidField(field, `has unknown fields ${Object.keys(rest).join(', ')}`);
  const limit: RouteLimit = {};
  for (const [name, given] of [
    ['requestsPerMinute', requestsPerMinute],
    ['tokensPerMinute', tokensPerMinute],
  ] as const) {
    if (given === undefined) continue;
    const max = KEY_LIMITS[name];
    if (!Number.isInteger(given) || given < 1 || given > max)
      throw invalidField(`${field}.${name}`, `must be an integer from 1 to ${max}`);
    limit[name] = given;
  }
  if (Object.keys(limit).length === 0)
    throw invalidField(field, 'needs requestsPerMinute or tokensPerMinute');
  return limit;
};

// The shape of rateLimit.routes (route name → its limits). Whether each route exists is the decider's question:
// the REST and gRPC DTOs apply this part too, so both refuse a malformed entry with the same words.
export const requireRouteLimits = (value: unknown): Record<string, RouteLimit> => {
  if (!isObject(value)) throw invalidField('rateLimit.routes', 'must be an object of route name → limits');
  const entries = Object.entries(value);
  if (entries.length > KEY_LIMITS.routeLimits)
    throw invalidField('rateLimit.routes', `must have at most ${KEY_LIMITS.routeLimits} routes`);
  return Object.fromEntries(
    entries.map(([route, limit]) => {
      if (route === '' || route.length > KEY_LIMITS.routeName)
        throw invalidField('rateLimit.routes', `route names must be 1-${KEY_LIMITS.routeName} characters`);
      return [route, requireRouteLimit(route, limit)];
    }),
  );
};

// What a rate limit may name: a tier and routes of routes.yaml.
export interface RateLimitRefs {
  tierExists: (tier: string) => boolean;
  routeExists: (route: string) => boolean;
}

// Drops absent fields so two equal limits compare equal whatever the caller's object looked like.
export const requireRateLimit = (value: unknown, refs: RateLimitRefs): RateLimit | null => {
  if (value === null) return null;
  if (!isObject(value)) throw invalidField('rateLimit', 'must be an object or null');
  const { tier, requestsPerMinute, tokensPerMinute, maxConcurrentRequests, routes, ...rest } =
    value as RateLimit;
  if (Object.keys(rest).length > 0)
    throw invalidField('rateLimit', `has unknown fields ${Object.keys(rest).join(', ')}`);
  const limit: RateLimit = {};
  if (tier !== undefined) {
    limit.tier = requireText('rateLimit.tier', tier, 64);
    if (!refs.tierExists(limit.tier)) {
      throw new DomainError('UNKNOWN_TIER', `no tier named "${limit.tier}" in routes.yaml`, {
        tier: limit.tier,
      });
    }
  }
  if (requestsPerMinute !== undefined)
    limit.requestsPerMinute = requirePerMinute('requestsPerMinute', requestsPerMinute);
  if (tokensPerMinute !== undefined)
    limit.tokensPerMinute = requirePerMinute('tokensPerMinute', tokensPerMinute);
  if (maxConcurrentRequests !== undefined) {
    if (
      !Number.isInteger(maxConcurrentRequests) ||
      maxConcurrentRequests < 1 ||
      maxConcurrentRequests > KEY_LIMITS.concurrentRequests
    )
      throw invalidField(
        'rateLimit.maxConcurrentRequests',
        `must be an integer from 1 to ${KEY_LIMITS.concurrentRequests}`,
      );
    limit.maxConcurrentRequests = maxConcurrentRequests;
  }
  if (routes !== undefined) {
    const perRoute = requireRouteLimits(routes);
    const unknown = Object.keys(perRoute).filter((route) => !refs.routeExists(route));
    if (unknown.length > 0)
      throw new DomainError(
        'UNKNOWN_ROUTE',
        `rateLimit.routes names unknown route(s): ${unknown.join(', ')}`,
        {
          routes: unknown,
        },
      );
    // No entry is no per-route limit: {} and absent compare equal.
    if (Object.keys(perRoute).length > 0) limit.routes = perRoute;
  }
  if (Object.keys(limit).length === 0)
    throw invalidField('rateLimit', 'needs a tier or a limit (null removes it)');
  return limit;
};

export const requireBudget = (value: unknown): Budget | null => {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalidField('budget', 'must be an object or null');
  const { amountUsd, period } = value as Budget;
  if (typeof amountUsd !== 'string' || !DECIMAL_USD.test(amountUsd) || Number(amountUsd) <= 0) {
    throw invalidField('budget.amountUsd', 'must be a positive decimal string, e.g. "25.00"');
  }
  if (!BUDGET_PERIODS.includes(period))
    throw invalidField('budget.period', `must be one of ${BUDGET_PERIODS.join(', ')}`);
  return { amountUsd, period };
};

// Structural equality for the JSON values held in key state (object key order does not matter).
export const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const bKeys = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    aKeys.length === bKeys.length &&
    aKeys.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
};
