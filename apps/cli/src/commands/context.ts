import type { Command } from 'commander';
import { ApiClient } from '../connection/api-client';
import { resolveConnection, type Connection, type ConnectionOptions } from '../connection/connection';
import type { Io } from '../io/io';
import { print } from '../io/output';

export interface GlobalOptions extends ConnectionOptions {
  json?: boolean;
}

export interface Ctx {
  io: Io;
  json: boolean;
  connection(): Connection;
  keyService(): ApiClient;
  usageService(): ApiClient;
}

// Flags win over environment variables (read from io.env, not process.env, so tests can set them); the profile and
// .stack/admin-token come after, in resolveConnection. Resolved lazily: `keygate env` needs no connection.
export const globalOptions = (cmd: Command, io: Io): GlobalOptions => {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  return {
    json: Boolean(o.json),
    url: o.url ?? (io.env.KEYGATE_URL || undefined),
    usageUrl: o.usageUrl ?? (io.env.KEYGATE_USAGE_URL || undefined),
    gatewayUrl: o.gatewayUrl ?? (io.env.KEYGATE_GATEWAY_URL || undefined),
    token: o.token ?? (io.env.KEYGATE_TOKEN || undefined),
    profile: o.profile ?? (io.env.KEYGATE_PROFILE || undefined),
  };
};

export const contextOf = (cmd: Command, io: Io): Ctx => {
  const opts = globalOptions(cmd, io);
  let conn: Connection | undefined;
  const connection = () => (conn ??= resolveConnection(opts, io.env, io.cwd));
  return {
    io,
    json: Boolean(opts.json),
    connection,
    keyService: () => new ApiClient('key-service', connection().url, connection().token),
    usageService: () => new ApiClient('usage-service', connection().usageUrl, connection().token),
  };
};

// `.action(withContext(io, async (ctx, args, opts) => …))`: commander passes the positional arguments, the command's
// options and the command itself; this hands the action a context instead of the Command.
export const withContext =
  <O>(io: Io, fn: (ctx: Ctx, args: string[], opts: O) => Promise<void>) =>
  async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const opts = params[params.length - 2] as O;
    const args = params.slice(0, -2) as string[];
    await fn(contextOf(cmd, io), args, opts);
  };

// `keys delete`, `groups delete`, `providers remove`: DELETE on the key-service, then one line (or JSON) saying so.
export const deleteAction = (io: Io, pathOf: (id: string) => string, verb = 'deleted') =>
  withContext(io, async (ctx, [id]) => {
    await ctx.keyService().request('DELETE', pathOf(id));
    print(ctx.io, ctx.json, { id, deleted: true }, () => `${verb} ${id}\n`);
  });
