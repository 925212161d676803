import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { newId, toBase62, type AdminRole } from '@keygate/contracts';
import type { Actor, AdminTokenLookup, Caller } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { CommandHandler } from '../event-store/command-handler';
import { adminTokenDecider, type AdminTokenCommand } from './admin-token.decider';

export interface AdminTokenResource {
  id: string;
  name: string;
  role: AdminRole;
  maskedToken: string;
  createdAt: string;
  revokedAt: string | null;
  version: number;
}

interface AdminTokenRow {
  id: string;
  name: string;
  role: AdminRole;
  last4: string;
  created_at: Date;
  revoked_at: Date | null;
  version: number;
}

const TOKEN_PREFIX = 'kgadm_';

// kgadm_<43 base62 chars of 32 random bytes>: recognisable in a leak scan, like kg_ keys.
export const generateAdminToken = (): string =>
  `${TOKEN_PREFIX}${toBase62(BigInt(`0x${randomBytes(32).toString('hex')}`), 43)}`;

const toResource = (r: AdminTokenRow): AdminTokenResource => ({
  id: r.id,
  name: r.name,
  role: r.role,
  maskedToken: `${TOKEN_PREFIX}…${r.last4}`,
  createdAt: r.created_at.toISOString(),
  revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
  version: r.version,
});

// Issue/list/revoke. Authentication reads the admin_tokens read model, which the revoke updates in the same
// transaction as its event: a revoked token fails on the very next request.
@Injectable()
export class AdminTokensService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly commands: CommandHandler,
  ) {}

  private run(tokenId: string, command: AdminTokenCommand, caller: Caller) {
    return this.commands.execute(adminTokenDecider, tokenId, command, async () => ({ now: new Date() }), {
      actor: caller.actor.id,
      requestId: caller.requestId,
    });
  }

  async issue(
    dto: { name: string; role: AdminRole },
    caller: Caller,
  ): Promise<AdminTokenResource & { token: string }> {
    const token = generateAdminToken();
    const tokenId = newId('adm');
    await this.run(
      tokenId,
      {
        type: 'IssueAdminToken',
        data: {
          tokenId,
          name: dto.name,
          role: dto.role,
          hash: createHash('sha256').update(token).digest('hex'),
          last4: token.slice(-4),
        },
      },
      caller,
    );
    return { ...(await this.get(tokenId)), token };
  }

  async revoke(tokenId: string, caller: Caller): Promise<AdminTokenResource> {
    await this.run(tokenId, { type: 'RevokeAdminToken', data: { tokenId } }, caller);
    return this.get(tokenId);
  }

  async get(tokenId: string): Promise<AdminTokenResource> {
    const rows: AdminTokenRow[] = await this.db.query(`SELECT * FROM admin_tokens WHERE id = $1`, [tokenId]);
    if (rows.length === 0)
      throw new DomainError('ADMIN_TOKEN_NOT_FOUND', `admin token ${tokenId} not found`, { tokenId });
    return toResource(rows[0]);
  }

  // The management kit's lookup (AdminAuthenticator): an issued, unrevoked token by the hash of its plaintext.
  readonly activeTokenByHash: AdminTokenLookup = async (sha256Hex) => {
    const rows: Actor[] = await this.db.query(
      `SELECT id, role FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL`,
      [sha256Hex],
    );
    return rows[0] ?? null;
  };

  async list(
    limit = 100,
    cursor?: string,
  ): Promise<{ data: AdminTokenResource[]; nextCursor: string | null }> {
    const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
    const rows: AdminTokenRow[] = await this.db.query(
      `SELECT * FROM admin_tokens WHERE id > $1 ORDER BY id LIMIT $2`,
      [after, limit + 1],
    );
    const data = rows.slice(0, limit).map(toResource);
    return {
      data,
      nextCursor: rows.length > limit ? Buffer.from(data[data.length - 1].id).toString('base64url') : null,
    };
  }
}
