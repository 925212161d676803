import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { usageError } from '../cli-error';
import { configPath, readConfig, type Profile } from './config-store';

export const DEFAULT_URL = 'http://127.0.0.1:3001';
export const DEFAULT_USAGE_URL = 'http://127.0.0.1:3002';
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080/v1';

// What the global options hold after commander read flags and their environment variables.
export interface ConnectionOptions {
  url?: string;
  usageUrl?: string;
  gatewayUrl?: string;
  token?: string;
  profile?: string;
}

export interface Connection {
  url: string;
  usageUrl: string;
  gatewayUrl: string;
  // Where the token came from (for `keygate whoami`-style messages); the token itself is never printed.
  tokenSource: 'flag or KEYGATE_TOKEN' | 'profile' | '.stack/admin-token' | 'none';
  token: string | undefined;
  profile: string;
}

type Env = Record<string, string | undefined>;

// `npm run up` writes its admin token to <checkout>/.stack/admin-token: found from the working directory upwards,
// in a directory whose package.json is keygate's.
export const findStackToken = (cwd: string): string | undefined => {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const file = join(dir, '.stack', 'admin-token');
    if (existsSync(file) && isKeygateCheckout(dir)) return readFileSync(file, 'utf8').trim() || undefined;
    if (dirname(dir) === dir) return undefined;
  }
};

const isKeygateCheckout = (dir: string): boolean => {
  try {
    return (
      (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'keygate'
    );
  } catch {
    return false;
  }
};

export const selectedProfile = (opts: ConnectionOptions, env: Env): { name: string; explicit: boolean } => {
  if (opts.profile) return { name: opts.profile, explicit: true };
  const current = readConfig(configPath(env)).current;
  return { name: current ?? 'default', explicit: false };
};

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

export const checkUrl = (value: string, what: string): string => {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw usageError(`${what} must be an http(s) URL, got "${value.slice(0, 200)}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw usageError(`${what} must be an http(s) URL, got "${value.slice(0, 200)}"`);
  return trimSlash(value);
};

// A header carries visible ASCII only; say so without echoing the value.
export const checkToken = (token: string, source: string): string => {
  if (!/^[\x21-\x7e]{1,4096}$/.test(token))
    throw usageError(`the admin token (from ${source}) has characters an HTTP header cannot carry`);
  return token;
};

// Precedence, per setting: flag > environment variable > profile > `.stack/admin-token` (token only) > default.
export const resolveConnection = (opts: ConnectionOptions, env: Env, cwd: string): Connection => {
  const { name, explicit } = selectedProfile(opts, env);
  const profiles = readConfig(configPath(env)).profiles;
  const profile: Profile | undefined = profiles[name];
  if (explicit && !profile)
    throw usageError(`no profile "${name}" in ${configPath(env)}: run \`keygate login --profile ${name}\``);
  const token = opts.token ?? profile?.token ?? findStackToken(cwd);
  const tokenSource: Connection['tokenSource'] = opts.token
    ? 'flag or KEYGATE_TOKEN'
    : profile?.token
      ? 'profile'
      : token
        ? '.stack/admin-token'
        : 'none';
  if (token !== undefined) checkToken(token, tokenSource);
  return {
    url: checkUrl(opts.url ?? profile?.url ?? DEFAULT_URL, '--url'),
    usageUrl: checkUrl(opts.usageUrl ?? profile?.usageUrl ?? DEFAULT_USAGE_URL, '--usage-url'),
    gatewayUrl: checkUrl(opts.gatewayUrl ?? profile?.gatewayUrl ?? DEFAULT_GATEWAY_URL, '--gateway-url'),
    token,
    tokenSource,
    profile: name,
  };
};
