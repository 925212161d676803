import type { Command } from 'commander';
import {
  budgetArg,
  collect,
  expiresArg,
  intArg,
  listOrNone,
  metadataArg,
  orNull,
  rotationDaysArg,
  dormantDaysArg,
  routeLimitArg,
  rpmArg,
  tpmArg,
  type Budget,
  type Clearable,
  type RouteLimit,
} from './option-parsers';

// The restrictions `keys create` sets and `keys update` changes: one set of flags, one mapping to the API's fields.
export interface RestrictionOptions {
  expires?: Clearable<string>;
  ipAllow?: string[];
  ipDeny?: string[];
  rpm?: number;
  tpm?: number;
  maxConcurrent?: number;
  routeLimit?: Record<string, RouteLimit>;
  tier?: string;
  budget?: Clearable<Budget>;
  rotationDays?: Clearable<number>;
  dormantDays?: Clearable<number>;
  metadata?: Record<string, string>;
}

export const restrictionOptions = (cmd: Command, { update }: { update: boolean }): Command =>
  cmd
    .option('--expires <when>', 'YYYY-MM-DD, ISO date-time, Nd (days from now) or never', expiresArg())
    .option(
      '--ip-allow <cidr>',
      `only from this CIDR; repeatable${update ? '; replaces the list, none empties it' : ''}`,
      collect,
    )
    .option(
      '--ip-deny <cidr>',
      `never from this CIDR; repeatable${update ? '; replaces the list, none empties it' : ''}`,
      collect,
    )
    .option('--rpm <n>', 'requests per minute', rpmArg)
    .option('--tpm <n>', 'tokens per minute', tpmArg)
    .option('--max-concurrent <n>', 'requests in flight at once, across every gateway', intArg(1, 100_000))
    .option(
      '--route-limit <route=rpm[/tpm]>',
      `a limit on one route, on top of the key's own, e.g. gpt-4o=10 or gpt-4o=10/40000; repeatable${
        update ? '; replaces the route limits, none removes them' : ''
      }`,
      routeLimitArg,
    )
    .option('--tier <tier>', 'a rate-limit tier of routes.yaml, e.g. free')
    .option(
      '--budget <usd/period>',
      `spend limit, e.g. 25/month, 1.50/day${update ? '; none removes it' : ''}`,
      budgetArg,
    )
    .option(
      '--rotation-days <n>',
      `rotation period in days (keygate stale lists overdue keys)${update ? ', or none' : ''}`,
      rotationDaysArg,
    )
    .option(
      '--dormant-days <n>',
      'suspend after N days unused; never, or default (the deployment setting)',
      dormantDaysArg,
    )
    .option(
      '--metadata <key=value>',
      `repeatable${update ? '; merged into the key metadata' : ''}`,
      metadataArg,
    );

export const rateLimitOf = (o: RestrictionOptions) =>
  o.rpm === undefined &&
  o.tpm === undefined &&
  o.tier === undefined &&
  o.maxConcurrent === undefined &&
  o.routeLimit === undefined
    ? undefined
    : {
        tier: o.tier,
        requestsPerMinute: o.rpm,
        tokensPerMinute: o.tpm,
        maxConcurrentRequests: o.maxConcurrent,
        routes: o.routeLimit,
      };

// Fields left undefined are dropped by JSON.stringify: the API sees only what was given; "none"/"never" → null.
export const restrictionsBody = (o: RestrictionOptions) => ({
  expiresAt: orNull(o.expires),
  ipAllow: listOrNone(o.ipAllow),
  ipDeny: listOrNone(o.ipDeny),
  budget: orNull(o.budget),
  rotationPeriodDays: orNull(o.rotationDays),
  dormantAfterDays: orNull(o.dormantDays),
});
