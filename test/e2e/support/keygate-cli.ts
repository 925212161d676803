import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, type TestStack } from '@keygate/testing';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string;
}

// The built `keygate` (bin/keygate.js → dist/apps/cli) as a child process, as a shell or CI runs it: a private HOME
// (so ~/.config/keygate is the test's own), the stack's URLs and token in KEYGATE_* unless a test overrides them.
export const keygateCli = (stack: TestStack, defaults: CliOptions = {}) => {
  const home = mkdtempSync(join(tmpdir(), 'keygate-cli-e2e-'));
  const baseEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    KEYGATE_URL: stack.keyServiceUrl,
    KEYGATE_USAGE_URL: stack.usageServiceUrl,
    KEYGATE_GATEWAY_URL: `${stack.gatewayUrl}/v1`,
    KEYGATE_TOKEN: stack.adminToken,
  };
  const run = (args: string[], options: CliOptions = {}): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const env = Object.fromEntries(
        Object.entries({ ...baseEnv, ...defaults.env, ...options.env }).filter(([, v]) => v !== undefined),
      ) as Record<string, string>;
      // Executed as a shell does (its shebang), the way `npx keygate` and an installed `keygate` run it.
      const child = spawn(join(ROOT, 'bin', 'keygate.js'), args, {
        cwd: options.cwd ?? defaults.cwd ?? home,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(options.stdin ?? '');
    });
  return { run, home };
};

// --json output, parsed; fails the test with the CLI's stderr when the command did not succeed.
export const json = <T>(r: CliResult): T => {
  if (r.code !== 0) throw new Error(`keygate exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
