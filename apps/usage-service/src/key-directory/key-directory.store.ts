import type { EntityManager } from 'typeorm';
import type { AdminRole, Budget, BudgetPeriod } from '@keygate/contracts';
import type { AdminTokenEntry, DirectoryKeyStatus, GroupEntry, KeyEntry } from './key-directory.evolve';

interface KeyRow {
  key_id: string;
  v: number;
  name: string;
  owner_id: string;
  environment: string;
  group_ids: string[];
  status: DirectoryKeyStatus;
  status_reason: string | null;
  budget_amount_usd: string | null;
  budget_period: BudgetPeriod | null;
  rotation_period_days: number | null;
  dormant_after_days: number | null;
  expires_at: Date | null;
  created_at: Date;
  rotated_at: Date | null;
  reactivated_at: Date | null;
  deleted_at: Date | null;
  updated_at: Date;
}

interface GroupRow {
  group_id: string;
  v: number;
  name: string;
  budget_amount_usd: string | null;
  budget_period: BudgetPeriod | null;
  deleted_at: Date | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

// numeric(24,12) comes back padded: "25.000000000000" → "25".
const trimDecimal = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s) || '0';

const budgetOf = (amount: string | null, period: BudgetPeriod | null): Budget | null =>
  amount !== null && period !== null ? { amountUsd: trimDecimal(amount), period } : null;

const toKey = (r: KeyRow): KeyEntry => ({
  keyId: r.key_id,
  v: r.v,
  name: r.name,
  ownerId: r.owner_id,
  environment: r.environment,
  groupIds: r.group_ids,
  status: r.status,
  statusReason: r.status_reason,
  budget: budgetOf(r.budget_amount_usd, r.budget_period),
  rotationPeriodDays: r.rotation_period_days,
  dormantAfterDays: r.dormant_after_days,
  expiresAt: iso(r.expires_at),
  createdAt: r.created_at.toISOString(),
  rotatedAt: iso(r.rotated_at),
  reactivatedAt: iso(r.reactivated_at),
  deletedAt: iso(r.deleted_at),
  updatedAt: r.updated_at.toISOString(),
});

// SQL of the directory tables. Every write is guarded by `v < excluded.v`: two consumers racing, a replay from
// offset 0 or a redelivered batch all end in the same rows.
export class KeyDirectoryStore {
  async loadKeys(m: EntityManager, ids: string[]): Promise<Map<string, KeyEntry>> {
    if (ids.length === 0) return new Map();
    const rows: KeyRow[] = await m.query(`SELECT * FROM key_directory WHERE key_id = ANY($1)`, [ids]);
    return new Map(rows.map((r) => [r.key_id, toKey(r)]));
  }

  async loadGroups(m: EntityManager, ids: string[]): Promise<Map<string, GroupEntry>> {
    if (ids.length === 0) return new Map();
    const rows: GroupRow[] = await m.query(`SELECT * FROM group_directory WHERE group_id = ANY($1)`, [ids]);
    return new Map(
      rows.map((r) => [
        r.group_id,
        {
          groupId: r.group_id,
          v: r.v,
          name: r.name,
          budget: budgetOf(r.budget_amount_usd, r.budget_period),
          deletedAt: iso(r.deleted_at),
        },
      ]),
    );
  }

  async loadAdminTokens(m: EntityManager, ids: string[]): Promise<Map<string, AdminTokenEntry>> {
    if (ids.length === 0) return new Map();
    const rows: {
      token_id: string;
      v: number;
      name: string;
      role: AdminRole;
      hash: string;
      revoked_at: Date | null;
    }[] = await m.query(`SELECT * FROM admin_tokens WHERE token_id = ANY($1)`, [ids]);
    return new Map(
      rows.map((r) => [
        r.token_id,
        {
          tokenId: r.token_id,
          v: r.v,
          name: r.name,
          role: r.role,
          hash: r.hash,
          revokedAt: iso(r.revoked_at),
        },
      ]),
    );
  }

  async saveKeys(m: EntityManager, keys: KeyEntry[]): Promise<void> {
    for (const k of keys) {
      await m.query(
        `INSERT INTO key_directory (key_id, v, name, owner_id, environment, group_ids, status, status_reason,
           budget_amount_usd, budget_period, rotation_period_days, expires_at, created_at, rotated_at, deleted_at,
           updated_at, dormant_after_days, reactivated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (key_id) DO UPDATE SET v = excluded.v, name = excluded.name, owner_id = excluded.owner_id,
           environment = excluded.environment, group_ids = excluded.group_ids, status = excluded.status,
           status_reason = excluded.status_reason, budget_amount_usd = excluded.budget_amount_usd,
           budget_period = excluded.budget_period, rotation_period_days = excluded.rotation_period_days,
           expires_at = excluded.expires_at, created_at = excluded.created_at, rotated_at = excluded.rotated_at,
           deleted_at = excluded.deleted_at, updated_at = excluded.updated_at,
           dormant_after_days = excluded.dormant_after_days, reactivated_at = excluded.reactivated_at
         WHERE key_directory.v < excluded.v`,
        [
          k.keyId,
          k.v,
          k.name,
          k.ownerId,
          k.environment,
          k.groupIds,
          k.status,
          k.statusReason,
          k.budget?.amountUsd ?? null,
          k.budget?.period ?? null,
          k.rotationPeriodDays,
          k.expiresAt,
          k.createdAt,
          k.rotatedAt,
          k.deletedAt,
          k.updatedAt,
          k.dormantAfterDays,
          k.reactivatedAt,
        ],
      );
    }
  }

  async saveGroups(m: EntityManager, groups: GroupEntry[]): Promise<void> {
    for (const g of groups) {
      await m.query(
        `INSERT INTO group_directory (group_id, v, name, budget_amount_usd, budget_period, deleted_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (group_id) DO UPDATE SET v = excluded.v, name = excluded.name,
           budget_amount_usd = excluded.budget_amount_usd, budget_period = excluded.budget_period,
           deleted_at = excluded.deleted_at
         WHERE group_directory.v < excluded.v`,
        [g.groupId, g.v, g.name, g.budget?.amountUsd ?? null, g.budget?.period ?? null, g.deletedAt],
      );
    }
  }

  async saveAdminTokens(m: EntityManager, tokens: AdminTokenEntry[]): Promise<void> {
    for (const t of tokens) {
      await m.query(
        `INSERT INTO admin_tokens (token_id, v, name, role, hash, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (token_id) DO UPDATE SET v = excluded.v, name = excluded.name, role = excluded.role,
           hash = excluded.hash, revoked_at = excluded.revoked_at
         WHERE admin_tokens.v < excluded.v`,
        [t.tokenId, t.v, t.name, t.role, t.hash, t.revokedAt],
      );
    }
  }
}
