import type { Tier } from '@keygate/platform';
import { admissionKeys, type AdmissionPlan, type BudgetPlan } from '../admission/admission';
import { budgetPlan, currentPeriod } from '../budget/budget-guard';
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
  // The routes its groups grant, and their shared budgets (plan.groupBudgets), rebuilt only when a group changed
  // since (groupsEpoch, key-authenticator.ts).
  routes: ReadonlySet<string>;
  routesEpoch: number;
  // What admission is given; each budget's spend counter is renamed when its period ends.
  readonly plan: AdmissionPlan & { budget: Budgeted | null; groupBudgets: Budgeted[] };
}

type Budgeted = BudgetPlan & { endMs: number };

const instant = (iso: string | null | undefined, none: number): number => {
  if (!iso) return none;
  const ms = Date.parse(iso);
  // An unreadable instant fails closed: expired now, no grace.
  return Number.isNaN(ms) ? -Infinity : ms;
};

export const compileKey = (doc: KeyDocument, tiers: Record<string, Tier>, now: number): CompiledKey => {
  const limit = effectiveLimit(doc.rateLimit, tiers);
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
    routes: new Set(),
    routesEpoch: -1,
    plan: {
      keys: admissionKeys(doc.keyId),
      limit: limit ?? null,
      budget: doc.budget ? budgetPlan('key', doc.keyId, doc.budget, now) : null,
      groupBudgets: [],
    },
  };
};

/** The admission plan at `now`: each budget's counter of the period `now` is in, its lifetime from `now`. */
export const admissionPlan = (k: CompiledKey, now: number): AdmissionPlan => {
  if (k.plan.budget) currentPeriod(k.plan.budget, now);
  for (const g of k.plan.groupBudgets) currentPeriod(g, now);
  return k.plan;
};
