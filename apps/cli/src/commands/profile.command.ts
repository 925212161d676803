import type { Command } from 'commander';
import { usageError } from '../cli-error';
import { ApiClient } from '../connection/api-client';
import { configPath, PROFILE_NAME, readConfig, writeConfig } from '../connection/config-store';
import { checkToken, checkUrl, DEFAULT_URL, DEFAULT_USAGE_URL } from '../connection/connection';
import type { Io } from '../io/io';
import { print, renderTable } from '../io/output';
import { readSecret } from '../io/secret-input';
import { exportLines, readPak } from '../io/pak-file';
import { globalOptions, withContext } from './context';

// login / logout / profiles, and `env`: the commands about where keygate is and how an app reaches it.
export const registerProfiles = (program: Command, io: Io): void => {
  program
    .command('login')
    .description(
      'store a named profile (URLs + admin token) in ~/.config/keygate/config.json (mode 0600); ' +
        'the token is read from a hidden prompt or stdin, or taken from KEYGATE_TOKEN',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalOptions(cmd, io);
      const name = g.profile ?? 'default';
      if (!PROFILE_NAME.test(name)) throw usageError('a profile name is letters, digits, ".", "_" and "-"');
      if (cmd.optsWithGlobals<{ token?: string }>().token)
        throw usageError('login reads the token from a prompt or stdin (or KEYGATE_TOKEN), not from --token');
      const path = configPath(io.env);
      const config = readConfig(path);
      const previous = config.profiles[name] ?? {};
      const token = checkToken(g.token ?? (await readSecret(io, `admin token for ${name}`)), 'login');
      const profile = {
        url: g.url ?? previous.url,
        usageUrl: g.usageUrl ?? previous.usageUrl,
        gatewayUrl: g.gatewayUrl ?? previous.gatewayUrl,
        token,
      };
      // The token is checked before it is stored: a typo fails here, not in the next command.
      const url = checkUrl(profile.url ?? DEFAULT_URL, '--url');
      const usageUrl = checkUrl(profile.usageUrl ?? DEFAULT_USAGE_URL, '--usage-url');
      if (profile.gatewayUrl) checkUrl(profile.gatewayUrl, '--gateway-url');
      await new ApiClient('key-service', url, token).request('GET', '/v1/routes');
      config.profiles[name] = profile;
      config.current = name;
      writeConfig(path, config);
      print(
        io,
        Boolean(g.json),
        { profile: name, url, usageUrl, path },
        () => `logged in to ${url} as profile "${name}" (saved in ${path})\n`,
      );
    });

  program
    .command('logout')
    .description('forget a profile (--profile NAME, default: the current one)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalOptions(cmd, io);
      const path = configPath(io.env);
      const config = readConfig(path);
      const name = g.profile ?? config.current ?? 'default';
      if (!config.profiles[name]) throw usageError(`no profile "${name}" in ${path}`);
      delete config.profiles[name];
      if (config.current === name) config.current = Object.keys(config.profiles)[0];
      writeConfig(path, config);
      print(io, Boolean(g.json), { profile: name, removed: true }, () => `removed profile "${name}"\n`);
    });

  program
    .command('profiles')
    .description('the stored profiles (tokens never shown)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globalOptions(cmd, io);
      const config = readConfig(configPath(io.env));
      const rows = Object.entries(config.profiles).map(([name, p]) => ({
        name,
        current: name === config.current,
        url: p.url ?? null,
        usageUrl: p.usageUrl ?? null,
        gatewayUrl: p.gatewayUrl ?? null,
        hasToken: Boolean(p.token),
      }));
      print(io, Boolean(g.json), { data: rows }, () =>
        renderTable<(typeof rows)[number]>(
          [
            ['', (r) => (r.current ? '*' : ' ')],
            ['PROFILE', (r) => r.name],
            ['URL', (r) => r.url],
            ['USAGE URL', (r) => r.usageUrl],
            ['GATEWAY URL', (r) => r.gatewayUrl],
            ['TOKEN', (r) => (r.hasToken ? 'stored' : null)],
          ],
          rows,
        ),
      );
    });

  program
    .command('env')
    .description(
      'print `export OPENAI_API_KEY=… OPENAI_BASE_URL=…` for a .pak file: eval "$(keygate env app.pak)"',
    )
    .argument('<file.pak>', 'a .pak file (keygate keys create --save, or the console)')
    .option('--reveal', 'print even to a terminal (the output holds the key)')
    .action(
      withContext<{ reveal?: boolean }>(io, async (ctx, [file], o) => {
        const pak = readPak(file);
        // Meant for eval/$(…): on a terminal the key would sit in the scrollback.
        if (ctx.io.stdoutIsTTY && !o.reveal)
          throw usageError(`this prints the key: use eval "$(keygate env ${file})", or add --reveal`);
        if (ctx.json)
          return print(ctx.io, true, { OPENAI_API_KEY: pak.key, OPENAI_BASE_URL: pak.baseUrl }, () => '');
        ctx.io.out(exportLines(pak));
      }),
    );
};
