import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { usageError } from '../cli-error';

export interface Profile {
  url?: string;
  usageUrl?: string;
  gatewayUrl?: string;
  token?: string;
}

export interface ConfigFile {
  current?: string;
  profiles: Record<string, Profile>;
}

type Env = Record<string, string | undefined>;

// ~/.config/keygate/config.json, or under $XDG_CONFIG_HOME when it is set (the XDG base directory rule).
export const configPath = (env: Env): string => {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'keygate', 'config.json');
};

const PROFILE_FIELDS = ['url', 'usageUrl', 'gatewayUrl', 'token'] as const;

const isProfile = (v: unknown): v is Profile =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.entries(v).every(
    ([k, x]) =>
      (PROFILE_FIELDS as readonly string[]).includes(k) && (x === undefined || typeof x === 'string'),
  );

export const readConfig = (path: string): ConfigFile => {
  if (!existsSync(path)) return { profiles: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw usageError(`${path} is not valid JSON: fix or delete it`);
  }
  const file = parsed as Partial<ConfigFile>;
  const ok =
    typeof parsed === 'object' &&
    parsed !== null &&
    (file.current === undefined || typeof file.current === 'string') &&
    typeof file.profiles === 'object' &&
    file.profiles !== null &&
    Object.values(file.profiles).every(isProfile);
  if (!ok)
    throw usageError(`${path} is not a keygate config ({ "current", "profiles": {...} }): fix or delete it`);
  return file as ConfigFile;
};

// The file holds admin tokens: 0600 in a 0700 directory, written whole (temp file + rename) so a crash mid-write
// leaves the previous version, and re-chmodded in case someone loosened it.
export const writeConfig = (path: string, config: ConfigFile): void => {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
};

export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
