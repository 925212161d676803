import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

// config/routes.yaml, read by all three services. `${VAR:-default}` is expanded from the environment so one
// file serves the local mock provider and real deployments.
export type ProviderKind = 'openai' | 'azure' | 'gemini';

export interface ProviderConfig {
  name: string;
  type: ProviderKind;
  baseUrl: string;
  apiVersion?: string;
  credential: string; // a provider-credential name managed in key-service, or env:VAR
}

export interface RouteTarget {
  provider: string;
  model?: string;
  deployment?: string;
}

export interface RouteConfig {
  name: string;
  targets: RouteTarget[];
  timeoutMs: number;
  // The most completion tokens the route's models answer with (per choice). Budgets reserve a request's worst
  // case from it when the client sets no limit, so it must not be below the models' own maximum.
  maxOutputTokens: number;
}

export interface Price {
  input: string; // USD per 1M tokens, decimal string
  output: string;
}

export interface Tier {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export interface RoutesConfig {
  providers: Record<string, ProviderConfig>;
  routes: Record<string, RouteConfig>;
  pricing: Record<string, Price>;
  tiers: Record<string, Tier>;
}

// A route that does not say: generous for today's chat models (gpt-4o and gpt-4o-mini answer at most 16,384).
const DEFAULT_MAX_OUTPUT_TOKENS = 32_768;

// Names from the file are data: looked up as own properties only, so `constructor` or `__proto__` names nothing
// unless the file defines it.
const dictionary = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

const fail = (where: string, why: string): never => {
  throw new Error(`routes config: ${where}: ${why}`);
};

const expand = (text: string, env: NodeJS.ProcessEnv): string =>
  text.replace(
    /\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g,
    (_, name: string, fallback?: string) => env[name] ?? fallback ?? '',
  );

const obj = (v: unknown, where: string): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : v == null
      ? {}
      : fail(where, 'must be a mapping');

const str = (v: unknown, where: string): string =>
  typeof v === 'string' && v.length > 0 ? v : fail(where, 'must be a non-empty string');

const positiveInt = (v: unknown, where: string): number =>
  Number.isInteger(v) && (v as number) > 0 ? (v as number) : fail(where, 'must be a positive integer');

const decimal = (v: unknown, where: string): string => {
  const s = typeof v === 'number' ? String(v) : v;
  return typeof s === 'string' && /^\d+(\.\d+)?$/.test(s) ? s : fail(where, 'must be a non-negative decimal');
};

export const parseRoutesConfig = (text: string, env: NodeJS.ProcessEnv = process.env): RoutesConfig => {
  const root = obj(parse(expand(text, env)), 'root');
  const providers = dictionary<ProviderConfig>();
  for (const [name, raw] of Object.entries(obj(root.providers, 'providers'))) {
    const p = obj(raw, `providers.${name}`);
    const type = p.type;
    if (type !== 'openai' && type !== 'azure' && type !== 'gemini')
      fail(`providers.${name}.type`, 'must be openai, azure or gemini');
    const url = str(
      type === 'azure' ? p.endpoint : p.baseUrl,
      `providers.${name}.${type === 'azure' ? 'endpoint' : 'baseUrl'}`,
    );
    if (!/^https?:\/\//.test(url)) fail(`providers.${name}`, 'URL must be http(s)');
    providers[name] = {
      name,
      type: type as ProviderKind,
      baseUrl: url.replace(/\/+$/, ''),
      apiVersion: type === 'azure' ? str(p.apiVersion, `providers.${name}.apiVersion`) : undefined,
      credential: str(p.credential, `providers.${name}.credential`),
    };
  }
  const routes = dictionary<RouteConfig>();
  for (const [name, raw] of Object.entries(obj(root.routes, 'routes'))) {
    const r = obj(raw, `routes.${name}`);
    if (!Array.isArray(r.targets) || r.targets.length === 0)
      fail(`routes.${name}.targets`, 'must be a non-empty list');
    const targets = (r.targets as unknown[]).map((t, i) => {
      const target = obj(t, `routes.${name}.targets[${i}]`);
      const provider = str(target.provider, `routes.${name}.targets[${i}].provider`);
      const kind =
        providers[provider]?.type ?? fail(`routes.${name}.targets[${i}]`, `unknown provider ${provider}`);
      return kind === 'azure'
        ? { provider, deployment: str(target.deployment, `routes.${name}.targets[${i}].deployment`) }
        : { provider, model: str(target.model, `routes.${name}.targets[${i}].model`) };
    });
    routes[name] = {
      name,
      targets,
      timeoutMs: r.timeoutMs === undefined ? 30000 : positiveInt(r.timeoutMs, `routes.${name}.timeoutMs`),
      maxOutputTokens:
        r.maxOutputTokens === undefined
          ? DEFAULT_MAX_OUTPUT_TOKENS
          : positiveInt(r.maxOutputTokens, `routes.${name}.maxOutputTokens`),
    };
  }
  const pricing = dictionary<Price>();
  for (const [model, raw] of Object.entries(obj(root.pricing, 'pricing'))) {
    const p = obj(raw, `pricing.${model}`);
    pricing[model] = {
      input: decimal(p.input, `pricing.${model}.input`),
      output: decimal(p.output, `pricing.${model}.output`),
    };
  }
  const tiers = dictionary<Tier>();
  for (const [name, raw] of Object.entries(obj(root.tiers, 'tiers'))) {
    const t = obj(raw, `tiers.${name}`);
    tiers[name] = {
      requestsPerMinute:
        t.requestsPerMinute === undefined
          ? undefined
          : positiveInt(t.requestsPerMinute, `tiers.${name}.requestsPerMinute`),
      tokensPerMinute:
        t.tokensPerMinute === undefined
          ? undefined
          : positiveInt(t.tokensPerMinute, `tiers.${name}.tokensPerMinute`),
    };
  }
  return { providers, routes, pricing, tiers };
};

export const loadRoutesConfig = (path: string, env: NodeJS.ProcessEnv = process.env): RoutesConfig => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`routes config: cannot read ${path}: ${(e as Error).message}`);
  }
  return parseRoutesConfig(text, env);
};

// The upstream model a target names, used for pricing (Azure deployments are priced by their deployment name).
export const targetModel = (t: RouteTarget): string => t.model ?? t.deployment ?? '';

// DI token for the loaded RoutesConfig (an interface cannot be one).
export const ROUTES_CONFIG = Symbol('ROUTES_CONFIG');
