import { existsSync, readFileSync, renameSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { usageError } from '../cli-error';

export const PAK_FORMAT = 'keygate-key/1';

// The .pak format the console downloads and the CLI writes (DESIGN.md, Files): one key for one application.
export interface PakFile {
  format: typeof PAK_FORMAT;
  id: string;
  name: string;
  environment: string;
  key: string;
  baseUrl: string;
  createdAt: string;
  expiresAt: string | null;
}

const KEY_SHAPE = /^kg_(live|test)_[0-9A-Za-z]{49}$/;

// Checked before the API call, so a bad path changes nothing: the directory exists and, unless replacing is the
// point (rotate), the file does not — a fresh key never silently overwrites another one's file.
export const checkWritable = (path: string, { replace }: { replace: boolean }): string => {
  const full = resolve(path);
  const dir = dirname(full);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw usageError(`directory ${dir} does not exist`);
  if (existsSync(full) && statSync(full).isDirectory()) throw usageError(`${full} is a directory`);
  if (!replace && existsSync(full))
    throw usageError(`${full} already exists: choose another file or remove it`);
  return full;
};

// Mode 0600 from the first byte (temp file + rename, so a reader never sees a half-written key).
export const writeSecretFile = (path: string, content: string): void => {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
};

export const writePak = (path: string, pak: PakFile): void =>
  writeSecretFile(path, `${JSON.stringify(pak, null, 2)}\n`);

export const readPak = (path: string): PakFile => {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw usageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let pak: Partial<PakFile>;
  try {
    pak = JSON.parse(raw) as Partial<PakFile>;
  } catch {
    throw usageError(`${path} is not a .pak file (not JSON)`);
  }
  if (pak?.format !== PAK_FORMAT)
    throw usageError(`${path} is not a .pak file (format is not "${PAK_FORMAT}")`);
  if (typeof pak.key !== 'string' || !KEY_SHAPE.test(pak.key))
    throw usageError(`${path} holds no keygate key (kg_live_… or kg_test_…)`);
  if (typeof pak.baseUrl !== 'string' || !/^https?:\/\//.test(pak.baseUrl))
    throw usageError(`${path} has no http(s) baseUrl`);
  return pak as PakFile;
};

const shellQuote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

// For `eval "$(keygate env app.pak)"`.
export const exportLines = (pak: Pick<PakFile, 'key' | 'baseUrl'>): string =>
  `export OPENAI_API_KEY=${shellQuote(pak.key)}\nexport OPENAI_BASE_URL=${shellQuote(pak.baseUrl)}\n`;

// --env-file: a dotenv file whose OPENAI_API_KEY / OPENAI_BASE_URL lines are set (others kept), mode 0600.
export const upsertEnvFile = (path: string, pak: Pick<PakFile, 'key' | 'baseUrl'>): void => {
  const kept = existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !/^\s*(export\s+)?OPENAI_(API_KEY|BASE_URL)\s*=/.test(l))
    : [];
  writeSecretFile(
    path,
    [...kept, `OPENAI_API_KEY=${pak.key}`, `OPENAI_BASE_URL=${pak.baseUrl}`, ''].join('\n'),
  );
};
