import type { Budget } from '@keygate/contracts';
import type { Tier } from '@keygate/platform';
import { admissionKeys, type AdmissionPlan } from '../admission/admission';
import { budgetNanos, spendCounter } from '../budget/budget-guard';
import type { KeyDocument } from '../key-projection/key-document';
import { effectiveLimit, type EffectiveLimit } from '../rate-limit/rate-limiter';
import { parseCidrs, type IpRules } from './ip-rules';

// A key as the request path uses it: everything derivable from its document (expiry instants, CIDR matchers,
// limits, budget, Redis names) computed once, when the key enters the instance's cache. Per request only the
// clock is compared and, when the budget period has rolled over, the spend counter named again.
export interface CompiledKey {
  readonly keyId: string;
  readonly doc: KeyDocument;
  readonly revoked: boolean; // revoked or deleted
  readonly previousHash: string | null;
  readonly previousValidUntilMs: number; // the rotated-out secret works while now < this
  readonly expiresAtMs: number; // Infinity: never
  readonly ipRules: IpRules;
  readonly ipOpen: boolean; // no allow or deny list: any address
  // null: no limit; undefined: a tier this gateway does not know (refused, never served unlimited).
  readonly limit: EffectiveLimit | null | undefined;
  readonly budget: Budget | null;
  // The routes its groups grant, rebuilt only when a group changed since (groupsEpoch, key-authenticator.ts).
  routes: ReadonlySet<string>;
  routesEpoch: number;
  // What the admission script is given; its spend counter is renamed when the budget period ends.
  readonly plan: AdmissionPlan;
  budgetPeriodEndMs: number;
}

const instant = (iso: string | null | undefined, none: number): number => {
  if (!iso) return none;
  const ms = Date.parse(iso);
  // An unreadable instant fails closed: expired now, no grace.
  return Number.isNaN(ms) ? -Infinity : ms;
};

export const compileKey = (doc: KeyDocument, tiers: Record<string, Tier>, now: number): CompiledKey => {
  const limit = effectiveLimit(doc.rateLimit, tiers);
  const counter = doc.budget ? spendCounter(doc.keyId, doc.budget, now) : null;
  return {
    keyId: doc.keyId,
    doc,
    revoked: doc.status === 'revoked' || doc.status === 'deleted',
    previousHash: doc.previous?.hash ?? null,
    previousValidUntilMs: instant(doc.previous?.validUntil, -Infinity),
    expiresAtMs: instant(doc.expiresAt, Infinity),
    ipRules: { allow: parseCidrs(doc.ipAllow), deny: parseCidrs(doc.ipDeny) },
    ipOpen: doc.ipAllow.length === 0 && doc.ipDeny.length === 0,
    limit,
    budget: doc.budget,
    routes: new Set(),
    routesEpoch: -1,
    plan: {
      keys: admissionKeys(doc.keyId),
      limit: limit ?? null,
      budget:
        doc.budget && counter
          ? { amountNanos: budgetNanos(doc.budget), counter: { key: counter.key, ttlMs: counter.ttlMs } }
          : null,
    },
    budgetPeriodEndMs: counter?.endMs ?? Infinity,
  };
};

/** The admission plan at `now`: the budget counter of the period `now` is in, its lifetime from `now`. */
export const admissionPlan = (k: CompiledKey, now: number): AdmissionPlan => {
  const budget = k.plan.budget;
  if (budget && k.budget) {
    if (now >= k.budgetPeriodEndMs) {
      const c = spendCounter(k.keyId, k.budget, now);
      budget.counter = { key: c.key, ttlMs: c.ttlMs };
      k.budgetPeriodEndMs = c.endMs;
    } else budget.counter.ttlMs = k.budgetPeriodEndMs - now + 86_400_000;
  }
  return k.plan;
};
