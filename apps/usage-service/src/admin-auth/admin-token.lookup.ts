import type { DataSource } from 'typeorm';
import type { Actor, AdminTokenLookup } from '@keygate/platform';

// The usage API accepts the bootstrap ADMIN_TOKEN and every admin/auditor token issued by key-service and not
// revoked, learned from AdminTokenIssued/AdminTokenRevoked on keys.events (only hashes are kept): the management
// kit's AdminAuthenticator asks this lookup.
export const adminTokenLookup =
  (db: DataSource): AdminTokenLookup =>
  async (sha256Hex) =>
    (
      (await db.query(
        `SELECT token_id AS id, role FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL`,
        [sha256Hex],
      )) as Actor[]
    )[0] ?? null;
