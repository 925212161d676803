import type { Command } from 'commander';
import { usageError } from '../cli-error';
import type { Io } from '../io/io';
import { print } from '../io/output';
import { deleteAction, withContext, type Ctx } from './context';
import { renderKey, type KeyResource } from './key-view';
import { rateLimitOf, restrictionOptions, restrictionsBody, type RestrictionOptions } from './key-options';
import { collect } from './option-parsers';

interface UpdateOptions extends RestrictionOptions {
  name?: string;
  description?: string;
  clearRateLimit?: boolean;
  addGroup?: string[];
  removeGroup?: string[];
}

const keyPath = (id: string) => `/v1/keys/${encodeURIComponent(id)}`;

const patchOf = (o: UpdateOptions, current: KeyResource) => {
  const limit = rateLimitOf(o);
  if (limit && o.clearRateLimit)
    throw usageError('--clear-rate-limit cannot be combined with --rpm/--tpm/--tier');
  const patch: Record<string, unknown> = {
    name: o.name,
    description: o.description,
    ...restrictionsBody(o),
    // --rpm alone keeps the key's tier and tpm: the API replaces the whole rate limit.
    rateLimit: o.clearRateLimit ? null : limit && { ...current.rateLimit, ...stripUndefined(limit) },
    metadata: o.metadata && { ...current.metadata, ...o.metadata },
  };
  return stripUndefined(patch);
};

const stripUndefined = <T extends Record<string, unknown>>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

// GET (for the ETag) → PATCH with If-Match → group changes: a concurrent edit makes this fail with
// VERSION_CONFLICT instead of silently undoing it.
const update = async (ctx: Ctx, id: string, o: UpdateOptions): Promise<void> => {
  const client = ctx.keyService();
  const hasPatch = Object.keys(patchOf(o, {} as KeyResource)).length > 0 || o.clearRateLimit;
  if (!hasPatch && !o.addGroup?.length && !o.removeGroup?.length)
    throw usageError('nothing to update: pass at least one option (keygate keys update --help)');
  let key = (await client.request<KeyResource>('GET', keyPath(id))).body;
  if (hasPatch) {
    key = (
      await client.request<KeyResource>('PATCH', keyPath(id), {
        body: patchOf(o, key),
        headers: { 'if-match': `"${key.version}"` },
      })
    ).body;
  }
  for (const g of o.addGroup ?? [])
    key = (await client.request<KeyResource>('PUT', `${keyPath(id)}/groups/${encodeURIComponent(g)}`)).body;
  for (const g of o.removeGroup ?? [])
    key = (await client.request<KeyResource>('DELETE', `${keyPath(id)}/groups/${encodeURIComponent(g)}`))
      .body;
  print(ctx.io, ctx.json, key, () => renderKey(key));
};

const stateChange = (io: Io, action: 'revoke' | 'suspend' | 'reactivate') =>
  withContext<{ reason?: string }>(io, async (ctx, [id], o) => {
    const res = await ctx.keyService().request<KeyResource>('POST', `${keyPath(id)}/${action}`, {
      body: action === 'reactivate' ? {} : { reason: o.reason },
    });
    print(ctx.io, ctx.json, res.body, () => `${res.body.id} is ${res.body.state}\n`);
  });

export const registerKeyChanges = (keys: Command, io: Io): void => {
  restrictionOptions(
    keys
      .command('update')
      .description(
        'change a key (only the options given); "none" clears a list, a budget or the rotation period',
      )
      .argument('<id>', 'key id (key_…)')
      .option('--name <name>')
      .option('--description <text>'),
    { update: true },
  )
    .option('--clear-rate-limit', 'remove the rate limit')
    .option('--add-group <id>', 'join a group; repeatable', collect)
    .option('--remove-group <id>', 'leave a group; repeatable', collect)
    .action(withContext<UpdateOptions>(io, (ctx, [id], o) => update(ctx, id, o)));

  keys
    .command('revoke')
    .description('revoke a key for good (it stops working at every gateway within moments)')
    .argument('<id>', 'key id (key_…)')
    .requiredOption('--reason <reason>', 'why, for the audit trail (e.g. leaked)')
    .action(stateChange(io, 'revoke'));

  keys
    .command('suspend')
    .description('stop a key until it is reactivated')
    .argument('<id>', 'key id (key_…)')
    .option('--reason <reason>', 'why, for the audit trail')
    .action(stateChange(io, 'suspend'));

  keys
    .command('reactivate')
    .description('let a suspended key work again')
    .argument('<id>', 'key id (key_…)')
    .action(stateChange(io, 'reactivate'));

  keys
    .command('delete')
    .description('remove a key from listings (its history and usage stay)')
    .argument('<id>', 'key id (key_…)')
    .action(deleteAction(io, keyPath));
};
