import { randomFillSync } from 'node:crypto';
import { BASE62_ALPHABET, toBase62 } from './api-key-format';

export type IdPrefix = 'key' | 'grp' | 'prv' | 'adm' | 'req' | 'alr' | 'whk';

// Random bytes drawn a page at a time: the gateway makes an id per request, and one small crypto call each
// cost more than the rest of the id.
const pool = Buffer.alloc(4096);
let offset = pool.length;
const randomByte = (): number => {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  return pool[offset++];
};

// 14 uniform base62 characters (83 random bits): bytes of 248 and above are drawn again, so each character
// is exactly uniform (248 = 4 × 62).
const randomBase62 = (length: number): string => {
  let out = '';
  while (out.length < length) {
    const b = randomByte();
    if (b < 248) out += BASE62_ALPHABET[b % 62];
  }
  return out;
};

// Prefixed ids: a time-ordered part (ms since epoch) so ids sort by creation, then 14 random characters.
export const newId = (prefix: IdPrefix, now: number = Date.now()): string =>
  `${prefix}_${toBase62(now, 8)}${randomBase62(14)}`;

export const hasPrefix = (id: string, prefix: IdPrefix): boolean =>
  new RegExp(`^${prefix}_[0-9A-Za-z]{22}$`).test(id);
