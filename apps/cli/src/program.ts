import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Argument, Command, CommanderError } from 'commander';
import { CliError, EXIT_API_ERROR, EXIT_OK, EXIT_USAGE } from './cli-error';
import { bashCompletion, zshCompletion } from './completion/completion-script';
import { DEFAULT_GATEWAY_URL, DEFAULT_URL, DEFAULT_USAGE_URL } from './connection/connection';
import { registerGroups } from './commands/groups.command';
import { registerKeyChanges } from './commands/keys-change.command';
import { registerKeyIssue } from './commands/keys-issue.command';
import { registerKeyLeaks } from './commands/keys-leaked.command';
import { registerKeyReads } from './commands/keys-read.command';
import { registerProfiles } from './commands/profile.command';
import { registerProviders } from './commands/providers.command';
import { registerReports } from './commands/reports.command';
import { registerUsage } from './commands/usage.command';
import type { Io } from './io/io';

const version = (): string => {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
};

export const buildProgram = (io: Io): Command => {
  const program = new Command('keygate')
    .description('keygate management from a terminal or CI: keys, groups, providers, usage, alerts')
    .version(version())
    .option('--json', 'machine-readable output (what the API answered)')
    .option('--url <url>', `key-service URL (env KEYGATE_URL; default ${DEFAULT_URL})`)
    .option('--usage-url <url>', `usage-service URL (env KEYGATE_USAGE_URL; default ${DEFAULT_USAGE_URL})`)
    .option(
      '--gateway-url <url>',
      `gateway base URL written to .pak files (env KEYGATE_GATEWAY_URL; default ${DEFAULT_GATEWAY_URL})`,
    )
    .option(
      '--token <token>',
      'admin token (env KEYGATE_TOKEN; prefer `keygate login` or the env variable: flags land in shell history)',
    )
    .option('--profile <name>', 'a profile stored by `keygate login` (env KEYGATE_PROFILE)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 the API answered an error (its code is printed) or could not be reached, 2 usage error.
A token comes from --token, KEYGATE_TOKEN, the profile, or .stack/admin-token inside a checkout running \`npm run up\`.`,
  );

  const keys = program.command('keys').description('API keys: list, create, show, update, rotate, revoke…');
  registerKeyReads(keys, io);
  registerKeyIssue(keys, io);
  registerKeyChanges(keys, io);
  registerKeyLeaks(keys, io);
  registerGroups(program, io);
  registerProviders(program, io);
  registerUsage(program, io);
  registerReports(program, io);
  registerProfiles(program, io);
  program
    .command('completion')
    .description('print a shell completion script: source <(keygate completion bash)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action((shell: string) => io.out(shell === 'bash' ? bashCompletion(program) : zshCompletion(program)));
  return program;
};

const report = (io: Io, e: CliError, json: boolean): void => {
  if (json) return io.err(`${JSON.stringify(e.toJSON())}\n`);
  io.err(`error ${e.code}: ${e.message}${e.requestId ? ` (request ${e.requestId})` : ''}\n`);
};

// Runs one command line and answers its exit code; it never calls process.exit, so tests can run it in-process.
export const run = async (argv: string[], io: Io): Promise<number> => {
  const json = argv.includes('--json');
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    // Commander already printed its message (unknown option, missing argument…); --help and --version end here too.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (e instanceof CliError) {
      report(io, e, json);
      return e.exitCode;
    }
    report(io, new CliError('INTERNAL', (e as Error).message ?? String(e), EXIT_API_ERROR), json);
    return EXIT_API_ERROR;
  }
};
