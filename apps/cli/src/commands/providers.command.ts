import { Option, type Command } from 'commander';
import { CliError, EXIT_API_ERROR, usageError } from '../cli-error';
import type { Io } from '../io/io';
import { print, printJson, renderDetails, renderTable } from '../io/output';
import { readSecret } from '../io/secret-input';
import { deleteAction, withContext, type Ctx } from './context';
import { oneOf } from './option-parsers';
import { listAction, pagedOptions } from './pages';

interface Provider {
  id: string;
  name: string;
  type: string;
  maskedSecret: string;
  settings: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface SettingsOptions {
  baseUrl?: string;
  endpoint?: string;
  deployment?: string;
  apiVersion?: string;
  organization?: string;
  secret?: string;
}

const settingsOf = (o: SettingsOptions) => {
  const s = {
    baseUrl: o.baseUrl,
    endpoint: o.endpoint,
    deployment: o.deployment,
    apiVersion: o.apiVersion,
    organization: o.organization,
  };
  return Object.values(s).some((v) => v !== undefined) ? s : undefined;
};

// Secrets come from a hidden prompt or stdin (readSecret). A --secret flag exists only to say so: by the time it
// is parsed the value is already in the shell history, so refuse rather than use it.
const noSecretFlag = (o: SettingsOptions): void => {
  if (o.secret !== undefined)
    throw usageError(
      'secrets are never taken from the command line: omit --secret and type it at the prompt or pipe it on stdin',
    );
};

const settingsOptions = (cmd: Command): Command =>
  cmd
    .option('--base-url <url>', 'openai: the API base URL (https://api.openai.com/v1)')
    .option('--endpoint <url>', 'azure: https://<resource>.openai.azure.com')
    .option('--deployment <name>', 'azure: the deployment')
    .option('--api-version <v>', 'azure: e.g. 2024-10-21')
    .option('--organization <org>', 'openai: the organization id')
    .addOption(new Option('--secret <value>').hideHelp());

const providerPath = (id: string) => `/v1/providers/${encodeURIComponent(id)}`;

const renderProvider = (p: Provider): string =>
  renderDetails([
    ['id', p.id],
    ['name', p.name],
    ['type', p.type],
    ['secret', p.maskedSecret],
    ...Object.entries(p.settings ?? {}).map(([k, v]) => [k, v] as [string, unknown]),
    ['created', p.createdAt],
    ['updated', p.updatedAt],
    ['version', p.version],
  ]);

const show = (ctx: Ctx, p: Provider) => print(ctx.io, ctx.json, p, () => renderProvider(p));

export const registerProviders = (program: Command, io: Io): void => {
  const providers = program
    .command('providers')
    .description('upstream provider credentials (encrypted in keygate; secrets from a prompt or stdin)');

  pagedOptions(providers.command('list').description('list provider credentials (secrets masked)')).action(
    listAction<Provider>(io, {
      service: 'key-service',
      path: '/v1/providers',
      pageSize: 200,
      render: (rows) =>
        renderTable<Provider>(
          [
            ['ID', (p) => p.id],
            ['NAME', (p) => p.name],
            ['TYPE', (p) => p.type],
            ['SECRET', (p) => p.maskedSecret],
            ['SETTINGS', (p) => (Object.keys(p.settings ?? {}).length ? p.settings : null)],
          ],
          rows,
        ),
    }),
  );

  settingsOptions(
    providers
      .command('add')
      .description(
        'add a credential; routes.yaml names it as `credential: NAME`; the secret is read from a prompt or stdin',
      )
      .requiredOption('--name <name>', 'the name routes.yaml uses')
      .requiredOption('--type <type>', 'openai|azure|gemini', oneOf(['openai', 'azure', 'gemini'])),
  ).action(
    withContext<SettingsOptions & { name: string; type: string }>(io, async (ctx, _a, o) => {
      noSecretFlag(o);
      ctx.keyService().assertToken();
      const secret = await readSecret(ctx.io, `${o.type} API key for ${o.name}`);
      const res = await ctx.keyService().request<Provider>('POST', '/v1/providers', {
        body: { name: o.name, type: o.type, secret, settings: settingsOf(o) },
      });
      show(ctx, res.body);
    }),
  );

  settingsOptions(
    providers
      .command('update')
      .description("replace a credential's settings (all of them: pass every one it should keep)")
      .argument('<id>', 'provider id (prv_…)'),
  ).action(
    withContext<SettingsOptions>(io, async (ctx, [id], o) => {
      noSecretFlag(o);
      const settings = settingsOf(o);
      if (!settings) throw usageError('nothing to update: pass the settings (--base-url, --endpoint, …)');
      const res = await ctx.keyService().request<Provider>('PATCH', providerPath(id), { body: { settings } });
      show(ctx, res.body);
    }),
  );

  settingsOptions(
    providers
      .command('rotate')
      .description('replace the secret (read from a prompt or stdin); settings given replace the old ones')
      .argument('<id>', 'provider id (prv_…)'),
  ).action(
    withContext<SettingsOptions>(io, async (ctx, [id], o) => {
      noSecretFlag(o);
      ctx.keyService().assertToken();
      const secret = await readSecret(ctx.io, `new secret for ${id}`);
      const res = await ctx.keyService().request<Provider>('POST', `${providerPath(id)}/rotate`, {
        body: { secret, settings: settingsOf(o) },
      });
      show(ctx, res.body);
    }),
  );

  providers
    .command('test')
    .description('call the provider with the stored secret (exit 1 when it fails)')
    .argument('<id>', 'provider id (prv_…)')
    .action(
      withContext(io, async (ctx, [id]) => {
        const res = await ctx
          .keyService()
          .request<{ ok: boolean; status: number; latencyMs: number; error?: string }>(
            'POST',
            `${providerPath(id)}/test`,
          );
        const r = res.body;
        if (ctx.json) printJson(ctx.io, r);
        if (!r.ok)
          throw new CliError(
            'PROVIDER_TEST_FAILED',
            `${r.error ?? `HTTP ${r.status}`} (${r.latencyMs} ms)`,
            EXIT_API_ERROR,
          );
        if (!ctx.json) ctx.io.out(`ok: HTTP ${r.status} in ${r.latencyMs} ms\n`);
      }),
    );

  providers
    .command('remove')
    .description('remove a credential (routes naming it stop working)')
    .argument('<id>', 'provider id (prv_…)')
    .action(deleteAction(io, providerPath, 'removed'));
};
