import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

// GitHub's secret scanning public keys (https://api.github.com/meta/public_keys/secret_scanning), from the file or
// URL in GITHUB_SECRET_SCANNING_KEYS: { public_keys: [{ key_identifier, key (PEM), is_current }] }.
// Cached for an hour; an unknown identifier reloads at most once a minute (GitHub rotates its keys).
const TTL_MS = 3_600_000;
const RELOAD_UNKNOWN_MS = 60_000;

export const parseGithubPublicKeys = (json: unknown): Map<string, KeyObject> => {
  const list = (json as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(list)) throw new Error('GITHUB_SECRET_SCANNING_KEYS: no public_keys array');
  const keys = new Map<string, KeyObject>();
  for (const entry of list as { key_identifier?: unknown; key?: unknown }[]) {
    if (typeof entry?.key_identifier !== 'string' || typeof entry.key !== 'string') continue;
    keys.set(entry.key_identifier, createPublicKey(entry.key));
  }
  return keys;
};

// ECDSA (P-256, SHA-256) over the raw body; the header is the base64 of the DER signature.
export const verifyGithubSignature = (payload: Buffer, signature: string, key: KeyObject): boolean => {
  try {
    return verify('sha256', payload, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
};

export class GithubPublicKeys {
  private keys = new Map<string, KeyObject>();
  private loadedAt = 0;

  constructor(
    private readonly source: string,
    private readonly now: () => number = Date.now,
  ) {}

  get configured(): boolean {
    return this.source !== '';
  }

  async find(identifier: string): Promise<KeyObject | undefined> {
    const age = this.now() - this.loadedAt;
    if (age > TTL_MS || (!this.keys.has(identifier) && age > RELOAD_UNKNOWN_MS)) await this.load();
    return this.keys.get(identifier);
  }

  private async load(): Promise<void> {
    this.loadedAt = this.now();
    const text = /^https?:\/\//.test(this.source)
      ? await fetch(this.source, { signal: AbortSignal.timeout(5000) }).then((r) => {
          if (!r.ok) throw new Error(`GITHUB_SECRET_SCANNING_KEYS answered ${r.status}`);
          return r.text();
        })
      : await readFile(this.source, 'utf8');
    this.keys = parseGithubPublicKeys(JSON.parse(text));
  }
}
