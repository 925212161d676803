import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { InfraLog } from './wait';

/**
 * Installs Debian's `pkg` with apt-get when `executable` is missing (Chromium for the browser tier, Prometheus for
 * the observe stack): as root directly, else through passwordless sudo. Synchronous: it runs once, before anything
 * that needs the program, and its output goes to the terminal.
 */
export function ensureDebianPackage(executable: string, pkg: string, log: InfraLog): void {
  if (existsSync(executable)) return;
  log(`${executable} is missing: apt-get install ${pkg}`);
  const apt = (args: string[]) =>
    process.getuid?.() === 0
      ? execFileSync('apt-get', args, { stdio: 'inherit' })
      : execFileSync('sudo', ['-n', 'apt-get', ...args], { stdio: 'inherit' });
  apt(['update']);
  apt(['install', '-y', '--no-install-recommends', pkg]);
}
