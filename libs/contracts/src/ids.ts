import { randomBytes } from 'node:crypto';
import { toBase62 } from './api-key-format';

export type IdPrefix = 'key' | 'grp' | 'prv' | 'adm' | 'req' | 'alr' | 'whk';

// Prefixed ids: a time-ordered part (ms since epoch) so ids sort by creation, then 10 random bytes.
export const newId = (prefix: IdPrefix, now: number = Date.now()): string =>
  `${prefix}_${toBase62(BigInt(now), 8)}${toBase62(BigInt(`0x${randomBytes(10).toString('hex')}`), 14)}`;

export const hasPrefix = (id: string, prefix: IdPrefix): boolean =>
  new RegExp(`^${prefix}_[0-9A-Za-z]{22}$`).test(id);
