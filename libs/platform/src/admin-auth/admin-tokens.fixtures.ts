import { createHash } from 'node:crypto';
import type { Actor } from './actor';
import type { AdminTokenLookup } from './admin-authenticator';

// An in-memory admin_tokens table for the kit's specs: issued tokens by hash, revoked ones kept but not found,
// as the services' `WHERE hash = $1 AND revoked_at IS NULL` lookups behave.
export const BOOTSTRAP_TOKEN = 'kgadm_bootstrap_for_specs';

export class FakeAdminTokens {
  private readonly rows = new Map<string, { actor: Actor; revoked: boolean }>();
  readonly asked: string[] = [];

  issue(token: string, actor: Actor): void {
    this.rows.set(createHash('sha256').update(token).digest('hex'), { actor, revoked: false });
  }

  revoke(token: string): void {
    const row = this.rows.get(createHash('sha256').update(token).digest('hex'));
    if (row) row.revoked = true;
  }

  readonly lookup: AdminTokenLookup = async (sha256Hex) => {
    this.asked.push(sha256Hex);
    const row = this.rows.get(sha256Hex);
    return row && !row.revoked ? row.actor : null;
  };
}
