import type { EntityManager } from 'typeorm';
import type { DomainEvent } from '@keygate/contracts';
import { toStored, type EventRow, type StoredEvent } from '../event-store/event-store';

// Applies committed events to the query tables (api_keys, groups, admin_tokens, provider_credentials) in the
// same transaction as the append, so a read after a write always sees it. `rebuildReadModels` replays the store.
export const applyToReadModels = async (m: EntityManager, stored: StoredEvent): Promise<void> => {
  const event = { type: stored.type, data: stored.data } as DomainEvent;
  const at = stored.createdAt;
  const v = stored.streamPosition;
  switch (event.type) {
    case 'KeyCreated': {
      const d = event.data;
      await m.query(
        `INSERT INTO api_keys (id, name, description, owner_id, environment, status, hash, last4, group_ids, expires_at,
           ip_allow, ip_deny, rate_limit, budget, metadata, rotation_period_days, created_at, updated_at, version,
           dormant_after_days)
         VALUES ($1,$2,$3,$4,$5,'active',$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16,$17,$18)
         ON CONFLICT (id) DO NOTHING`,
        [
          d.keyId,
          d.name,
          d.description,
          d.ownerId,
          d.environment,
          d.hash,
          d.last4,
          d.groupIds,
          d.expiresAt,
          d.ipAllow,
          d.ipDeny,
          d.rateLimit,
          d.budget,
          d.metadata,
          d.rotationPeriodDays,
          at,
          v,
          d.dormantAfterDays ?? null,
        ],
      );
      return;
    }
    case 'KeyUpdated': {
      const d = event.data;
      await m.query(
        `UPDATE api_keys SET name = COALESCE($2, name), description = COALESCE($3, description),
           metadata = COALESCE($4, metadata),
           rotation_period_days = CASE WHEN $5::boolean THEN $6 ELSE rotation_period_days END,
           dormant_after_days = CASE WHEN $9::boolean THEN $10 ELSE dormant_after_days END,
           updated_at = $7, version = $8 WHERE id = $1`,
        [
          d.keyId,
          d.name ?? null,
          d.description ?? null,
          d.metadata ?? null,
          'rotationPeriodDays' in d,
          d.rotationPeriodDays ?? null,
          at,
          v,
          'dormantAfterDays' in d,
          d.dormantAfterDays ?? null,
        ],
      );
      return;
    }
    case 'KeyRestrictionsChanged': {
      const d = event.data;
      await m.query(
        `UPDATE api_keys SET
           expires_at = CASE WHEN $2::boolean THEN $3::timestamptz ELSE expires_at END,
           ip_allow = COALESCE($4, ip_allow), ip_deny = COALESCE($5, ip_deny),
           rate_limit = CASE WHEN $6::boolean THEN $7::jsonb ELSE rate_limit END,
           budget = CASE WHEN $8::boolean THEN $9::jsonb ELSE budget END,
           updated_at = $10, version = $11 WHERE id = $1`,
        [
          d.keyId,
          'expiresAt' in d,
          d.expiresAt ?? null,
          d.ipAllow ?? null,
          d.ipDeny ?? null,
          'rateLimit' in d,
          d.rateLimit ? JSON.stringify(d.rateLimit) : null,
          'budget' in d,
          d.budget ? JSON.stringify(d.budget) : null,
          at,
          v,
        ],
      );
      return;
    }
    case 'KeyGroupAdded':
      await m.query(
        `UPDATE api_keys SET group_ids = array_append(array_remove(group_ids, $2), $2), updated_at = $3, version = $4
         WHERE id = $1`,
        [event.data.keyId, event.data.groupId, at, v],
      );
      return;
    case 'KeyGroupRemoved':
      await m.query(
        `UPDATE api_keys SET group_ids = array_remove(group_ids, $2), updated_at = $3, version = $4 WHERE id = $1`,
        [event.data.keyId, event.data.groupId, at, v],
      );
      return;
    case 'KeyRotated':
      await m.query(
        `UPDATE api_keys SET hash = $2, last4 = $3, rotated_at = $4, updated_at = $4, version = $5 WHERE id = $1`,
        [event.data.keyId, event.data.hash, event.data.last4, at, v],
      );
      return;
    case 'KeySuspended':
      return setStatus(m, event.data.keyId, 'suspended', at, v);
    case 'KeyReactivated':
      return setStatus(m, event.data.keyId, 'active', at, v);
    case 'KeyRevoked':
      return setStatus(m, event.data.keyId, 'revoked', at, v);
    case 'KeyDeleted':
      await m.query(`UPDATE api_keys SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`, [
        event.data.keyId,
        at,
        v,
      ]);
      return;
    case 'GroupCreated': {
      const d = event.data;
      await m.query(
        `INSERT INTO groups (id, name, description, routes, budget, created_at, updated_at, version)
         VALUES ($1,$2,$3,$4,$5,$6,$6,$7) ON CONFLICT (id) DO NOTHING`,
        [d.groupId, d.name, d.description, d.routes, d.budget ? JSON.stringify(d.budget) : null, at, v],
      );
      return;
    }
    case 'GroupUpdated': {
      const d = event.data;
      await m.query(
        `UPDATE groups SET name = COALESCE($2, name), description = COALESCE($3, description),
           routes = COALESCE($4, routes), budget = CASE WHEN $7::boolean THEN $8::jsonb ELSE budget END,
           updated_at = $5, version = $6 WHERE id = $1`,
        [
          d.groupId,
          d.name ?? null,
          d.description ?? null,
          d.routes ?? null,
          at,
          v,
          'budget' in d,
          d.budget ? JSON.stringify(d.budget) : null,
        ],
      );
      return;
    }
    case 'GroupDeleted':
      await m.query(`UPDATE groups SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`, [
        event.data.groupId,
        at,
        v,
      ]);
      return;
    case 'ProviderCredentialAdded': {
      const d = event.data;
      await m.query(
        `INSERT INTO provider_credentials (id, name, type, ciphertext, wrapped_data_key, last4, settings, created_at,
           updated_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8,$9) ON CONFLICT (id) DO NOTHING`,
        [d.credentialId, d.name, d.type, d.ciphertext, d.wrappedDataKey, d.last4, d.settings, at, v],
      );
      return;
    }
    case 'ProviderCredentialRotated': {
      const d = event.data;
      await m.query(
        `UPDATE provider_credentials SET ciphertext = $2, wrapped_data_key = $3, last4 = $4,
           settings = COALESCE($5, settings), updated_at = $6, version = $7 WHERE id = $1`,
        [d.credentialId, d.ciphertext, d.wrappedDataKey, d.last4, d.settings ?? null, at, v],
      );
      return;
    }
    case 'ProviderCredentialRemoved':
      await m.query(
        `UPDATE provider_credentials SET removed_at = $2, updated_at = $2, version = $3 WHERE id = $1`,
        [event.data.credentialId, at, v],
      );
      return;
    case 'AdminTokenIssued': {
      const d = event.data;
      await m.query(
        `INSERT INTO admin_tokens (id, name, role, hash, last4, created_at, version) VALUES ($1,$2,$3,$4,$5,$6,$7)
         ON CONFLICT (id) DO NOTHING`,
        [d.tokenId, d.name, d.role, d.hash, d.last4, at, v],
      );
      return;
    }
    case 'AdminTokenRevoked':
      await m.query(`UPDATE admin_tokens SET revoked_at = $2, version = $3 WHERE id = $1`, [
        event.data.tokenId,
        at,
        v,
      ]);
      return;
    default: {
      const unreachable: never = event;
      throw new Error(`unhandled event ${(unreachable as { type: string }).type}`);
    }
  }
};

const setStatus = async (
  m: EntityManager,
  keyId: string,
  status: string,
  at: Date,
  v: number,
): Promise<void> => {
  await m.query(`UPDATE api_keys SET status = $2, updated_at = $3, version = $4 WHERE id = $1`, [
    keyId,
    status,
    at,
    v,
  ]);
};

export const rebuildReadModels = async (m: EntityManager): Promise<number> => {
  await m.query(`TRUNCATE api_keys, groups, admin_tokens, provider_credentials`);
  let after = 0;
  let count = 0;
  for (;;) {
    const rows: EventRow[] = await m.query(
      `SELECT * FROM events WHERE global_position > $1 ORDER BY global_position LIMIT 1000`,
      [after],
    );
    if (rows.length === 0) return count;
    for (const row of rows) await applyToReadModels(m, toStored(row));
    count += rows.length;
    after = Number(rows[rows.length - 1].global_position);
  }
};
