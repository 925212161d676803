import type { Command } from 'commander';
import { CliError, EXIT_API_ERROR } from '../cli-error';
import type { Io } from '../io/io';
import { printJson } from '../io/output';
import { checkWritable, PAK_FORMAT, upsertEnvFile, writePak, type PakFile } from '../io/pak-file';
import { withContext, type Ctx } from './context';
import { renderKey, withoutSecret, type KeyResource } from './key-view';
import { rateLimitOf, restrictionOptions, restrictionsBody, type RestrictionOptions } from './key-options';
import { collect, intArg, oneOf } from './option-parsers';

interface SaveOptions {
  save?: string;
  envFile?: string;
}

interface CreateOptions extends SaveOptions, RestrictionOptions {
  name: string;
  description?: string;
  owner?: string;
  environment?: 'live' | 'test';
  group?: string[];
}

const createBody = (o: CreateOptions) => ({
  name: o.name,
  description: o.description,
  // Sent only when given: the key-service still requires ownerId today and answers VALIDATION_FAILED without it.
  ownerId: o.owner,
  environment: o.environment,
  groupIds: o.group,
  ...restrictionsBody(o),
  rateLimit: rateLimitOf(o),
  metadata: o.metadata,
});

// Until the key-service makes ownerId optional (issue 16), its refusal names the field; say which flag sets it.
const ownerHint = (e: unknown): unknown =>
  e instanceof CliError && e.code === 'VALIDATION_FAILED' && /ownerId/.test(e.message)
    ? new CliError(e.code, `${e.message} (set it with --owner)`, e.exitCode, e.requestId, e.status)
    : e;

// Paths are checked before the API call: a bad --save changes nothing.
const checkTargets = (o: SaveOptions, replace: boolean) => ({
  pak: o.save ? checkWritable(o.save, { replace }) : undefined,
  envFile: o.envFile ? checkWritable(o.envFile, { replace: true }) : undefined,
});

// The plaintext goes to exactly one place: the .pak/env file when asked, otherwise the terminal, once.
const deliver = (
  ctx: Ctx,
  k: KeyResource & { rotatedAt?: string },
  targets: ReturnType<typeof checkTargets>,
) => {
  const key = k.key as string;
  if (!targets.pak && !targets.envFile) {
    if (ctx.json) return printJson(ctx.io, k);
    ctx.io.out(renderKey(k, key));
    ctx.io.err('This key is shown once: store it now (or use --save FILE.pak next time).\n');
    return;
  }
  const baseUrl = ctx.connection().gatewayUrl;
  const pak: PakFile = {
    format: PAK_FORMAT,
    id: k.id,
    name: k.name,
    environment: k.environment,
    key,
    baseUrl,
    createdAt: k.rotatedAt ?? k.createdAt,
    expiresAt: k.expiresAt,
  };
  try {
    if (targets.pak) writePak(targets.pak, pak);
    if (targets.envFile) upsertEnvFile(targets.envFile, pak);
  } catch (e) {
    throw new CliError(
      'SAVE_FAILED',
      `key ${k.id} was issued but could not be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
        `issue a new secret with \`keygate keys rotate ${k.id} --save FILE.pak\``,
      EXIT_API_ERROR,
    );
  }
  const saved = [targets.pak, targets.envFile].filter(Boolean) as string[];
  if (ctx.json) return printJson(ctx.io, { ...withoutSecret(k), savedTo: saved });
  ctx.io.out(`${k.maskedKey} (${k.id}) saved to ${saved.join(' and ')} (mode 0600)\n`);
};

const saveOptions = (cmd: Command): Command =>
  cmd
    .option('--save <file.pak>', 'write the key to a .pak file (mode 0600) instead of printing it')
    .option(
      '--env-file <file>',
      'set OPENAI_API_KEY/OPENAI_BASE_URL in a dotenv file (mode 0600) instead of printing',
    );

export const registerKeyIssue = (keys: Command, io: Io): void => {
  saveOptions(
    restrictionOptions(
      keys
        .command('create')
        .description('create a key; the key is shown once (or saved with --save)')
        .requiredOption('--name <name>', 'a name people recognise')
        .option('--description <text>')
        .option('--owner <owner>', 'team or person owning the key (ownerId)')
        .option('--environment <env>', 'live|test (the kg_live_/kg_test_ prefix)', oneOf(['live', 'test']))
        .option('--group <id>', 'grant the routes of this group; repeatable', collect),
      { update: false },
    ),
  ).action(
    withContext<CreateOptions>(io, async (ctx, _args, o) => {
      const targets = checkTargets(o, false);
      const res = await ctx
        .keyService()
        .request<KeyResource>('POST', '/v1/keys', { body: createBody(o) })
        .catch((e: unknown) => {
          throw o.owner === undefined ? ownerHint(e) : e;
        });
      deliver(ctx, res.body, targets);
    }),
  );

  saveOptions(
    keys
      .command('rotate')
      .description('issue a new secret for a key; the old one works for --grace seconds more')
      .argument('<id>', 'key id (key_…)')
      .option(
        '--grace <seconds>',
        'how long the old secret keeps working (default 0)',
        intArg(0, 30 * 86400),
      ),
  ).action(
    withContext<SaveOptions & { grace?: number }>(io, async (ctx, [id], o) => {
      const targets = checkTargets(o, true);
      const res = await ctx
        .keyService()
        .request<KeyResource>('POST', `/v1/keys/${encodeURIComponent(id)}/rotate`, {
          body: { gracePeriodSeconds: o.grace ?? 0 },
        });
      deliver(ctx, res.body, targets);
    }),
  );
};
