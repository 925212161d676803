import { createHash, timingSafeEqual } from 'node:crypto';
import { CodedError } from '../errors/coded-error';
import type { Actor } from './actor';

// The kit's own codes: every service's error union includes them, so its tables map them (401 / 403).
export type AdminAuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN';

export class AdminAuthError extends CodedError<AdminAuthErrorCode> {
  override readonly name = 'AdminAuthError';
}

// Finds an issued, unrevoked admin token by the SHA-256 (hex) of its plaintext; null when there is none. Each
// service reads its own table: key-service the tokens it issues, usage-service those it learned from keys.events.
export type AdminTokenLookup = (sha256Hex: string) => Promise<Actor | null>;

export const BOOTSTRAP_ACTOR: Actor = { id: 'bootstrap', role: 'admin' };

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

// "Bearer <token>" (any case, one token of at most 512 visible characters), or null.
export const bearerToken = (authorization: unknown): string | null =>
  typeof authorization === 'string' ? (/^Bearer\s+(\S{1,512})$/i.exec(authorization)?.[1] ?? null) : null;

// Resolves a bearer credential to an actor: the bootstrap ADMIN_TOKEN, or an issued, unrevoked admin token.
// Shared by every transport of every service, so all apply the same rules; auditor tokens may only read.
export class AdminAuthenticator {
  private readonly bootstrapHash: Buffer;

  constructor(
    bootstrapToken: string,
    private readonly lookup: AdminTokenLookup,
  ) {
    this.bootstrapHash = sha256(bootstrapToken);
  }

  async authenticate(authorization: unknown): Promise<Actor> {
    const token = bearerToken(authorization);
    if (!token)
      throw new AdminAuthError(
        'UNAUTHENTICATED',
        'an admin token is required: Authorization: Bearer <token>',
      );
    const hash = sha256(token);
    if (timingSafeEqual(hash, this.bootstrapHash)) return BOOTSTRAP_ACTOR;
    // Looked up by hash: no secret is compared byte by byte.
    const actor = await this.lookup(hash.toString('hex'));
    if (!actor) throw new AdminAuthError('UNAUTHENTICATED', 'the admin token is invalid or revoked');
    return actor;
  }

  authorize(actor: Actor, write: boolean): void {
    if (write && actor.role !== 'admin')
      throw new AdminAuthError('FORBIDDEN', 'auditor tokens may only read');
  }
}
