import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

// kg_<env>_<43 base62 chars of 32 random bytes><6 base62 chars of CRC32 over everything before>.
export type KeyEnvironment = 'live' | 'test';
export const KEY_ENVIRONMENTS: readonly KeyEnvironment[] = ['live', 'test'];

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 43;
const CHECK_LENGTH = 6;
const PREFIX_LENGTH = 'kg_live_'.length;
export const API_KEY_LENGTH = PREFIX_LENGTH + RANDOM_LENGTH + CHECK_LENGTH;
// The pattern a secret scanner (GitHub's partner program, a log scrubber) looks for; README documents it.
export const API_KEY_SCAN_PATTERN = 'kg_(live|test)_[0-9A-Za-z]{49}';
const KEY_PATTERN = new RegExp(`^${API_KEY_SCAN_PATTERN}$`);
const KEYS_IN_TEXT = new RegExp(`\\b${API_KEY_SCAN_PATTERN}\\b`, 'g');

export const BASE62_ALPHABET = ALPHABET;

// Numbers (a CRC, a timestamp) take the plain arithmetic path; BigInt division is many times slower and the
// checksum runs on every gateway request.
export const toBase62 = (value: bigint | number, width: number): string => {
  let out = '';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError('toBase62 takes a non-negative integer');
    for (let rest = value; rest > 0; rest = Math.floor(rest / 62)) out = ALPHABET[rest % 62] + out;
  } else {
    for (let rest = value; rest > 0n; rest /= 62n) out = ALPHABET[Number(rest % 62n)] + out;
  }
  return out.padStart(width, '0');
};

const checksum = (body: string): string => toBase62(crc32(body), CHECK_LENGTH);

export const generateApiKey = (environment: KeyEnvironment, random: Buffer = randomBytes(32)): string => {
  if (random.length !== 32) throw new Error('an API key needs exactly 32 random bytes');
  const body = `kg_${environment}_${toBase62(BigInt(`0x${random.toString('hex')}`), RANDOM_LENGTH)}`;
  return body + checksum(body);
};

// Shape and checksum only: a string that fails here is rejected before any lookup.
export const parseApiKey = (candidate: string): { environment: KeyEnvironment } | null => {
  if (candidate.length !== API_KEY_LENGTH || !KEY_PATTERN.test(candidate)) return null;
  const body = candidate.slice(0, API_KEY_LENGTH - CHECK_LENGTH);
  if (checksum(body) !== candidate.slice(API_KEY_LENGTH - CHECK_LENGTH)) return null;
  return { environment: candidate.slice(3, 7) as KeyEnvironment };
};

// One-shot (no Hash object): the gateway hashes the presented key on every request.
export const hashApiKey = (key: string): string => hash('sha256', key, 'hex');

export const lastFour = (key: string): string => key.slice(-4);

export const maskApiKey = (environment: KeyEnvironment, last4: string): string =>
  `kg_${environment}_…${last4}`;

// Free text from outside (a leak report's source) with anything shaped like a key masked, so no key string
// reaches an event, a log line or a table through it.
export const redactApiKeys = (text: string): string =>
  text.replace(KEYS_IN_TEXT, (k) => maskApiKey(k.slice(3, 7) as KeyEnvironment, lastFour(k)));
