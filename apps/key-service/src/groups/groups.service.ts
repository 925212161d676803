import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { newId, type Budget } from '@keygate/contracts';
import { ROUTES_CONFIG, type RoutesConfig, type Caller } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { CommandHandler } from '../event-store/command-handler';
import { groupDecider, type GroupCommand, type GroupContext } from './group.decider';

export interface GroupResource {
  id: string;
  name: string;
  description: string;
  routes: string[];
  budget: Budget | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

// What create and update take (update: every field optional; budget null removes it).
export interface GroupInput {
  name?: string;
  description?: string;
  routes?: string[];
  budget?: Budget | null;
}

interface GroupRow {
  id: string;
  name: string;
  description: string;
  routes: string[];
  budget: Budget | null;
  created_at: Date;
  updated_at: Date;
  version: number;
}

const toResource = (r: GroupRow): GroupResource => ({
  id: r.id,
  name: r.name,
  description: r.description,
  routes: r.routes,
  budget: r.budget,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  version: r.version,
});

@Injectable()
export class GroupsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly commands: CommandHandler,
    @Inject(ROUTES_CONFIG) private readonly routes: RoutesConfig,
  ) {}

  private async run(groupId: string, command: GroupCommand, caller: Caller) {
    const name = 'name' in command.data ? command.data.name : undefined;
    try {
      return await this.commands.execute(
        groupDecider,
        groupId,
        command,
        async (m): Promise<GroupContext> => {
          const holders: { id: string }[] =
            typeof name === 'string'
              ? await m.query(`SELECT id FROM groups WHERE lower(name) = lower($1) AND deleted_at IS NULL`, [
                  name.trim(),
                ])
              : [];
          const [{ used }] = await m.query(
            `SELECT EXISTS (SELECT 1 FROM api_keys WHERE $1 = ANY(group_ids) AND deleted_at IS NULL AND status <> 'revoked') AS used`,
            [groupId],
          );
          return {
            now: new Date(),
            routeExists: (r) => Object.hasOwn(this.routes.routes, r),
            groupNameTaken: () => holders.some((h) => h.id !== groupId),
            groupHasKeys: () => used as boolean,
          };
        },
        { actor: caller.actor.id, requestId: caller.requestId },
      );
    } catch (e) {
      // Two concurrent creates of one name: the read model's unique index is the tie-breaker.
      if ((e as { code?: string }).code === '23505' && /groups_name/.test(String((e as Error).message)))
        throw new DomainError('GROUP_ALREADY_EXISTS', `a group named ${JSON.stringify(name)} already exists`);
      throw e;
    }
  }

  async create(dto: GroupInput & { name: string }, caller: Caller): Promise<GroupResource> {
    const groupId = newId('grp');
    await this.run(groupId, { type: 'CreateGroup', data: { groupId, ...dto } }, caller);
    return this.get(groupId);
  }

  async update(groupId: string, dto: GroupInput, caller: Caller): Promise<GroupResource> {
    await this.run(groupId, { type: 'UpdateGroup', data: { groupId, ...dto } }, caller);
    return this.get(groupId);
  }

  async remove(groupId: string, caller: Caller): Promise<void> {
    await this.run(groupId, { type: 'DeleteGroup', data: { groupId } }, caller);
  }

  async get(groupId: string): Promise<GroupResource> {
    const rows: GroupRow[] = await this.db.query(
      `SELECT * FROM groups WHERE id = $1 AND deleted_at IS NULL`,
      [groupId],
    );
    if (rows.length === 0)
      throw new DomainError('GROUP_NOT_FOUND', `group ${groupId} not found`, { groupId });
    return toResource(rows[0]);
  }

  async list(limit = 100, cursor?: string): Promise<{ data: GroupResource[]; nextCursor: string | null }> {
    const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
    const rows: GroupRow[] = await this.db.query(
      `SELECT * FROM groups WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2`,
      [after, limit + 1],
    );
    const data = rows.slice(0, limit).map(toResource);
    return {
      data,
      nextCursor: rows.length > limit ? Buffer.from(data[data.length - 1].id).toString('base64url') : null,
    };
  }
}
