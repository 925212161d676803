import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startMockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { startTestStack } from '../../libs/testing/src/stack/test-stack';
import { CHROMIUM, withBrowserRun } from './browser-run';

// Browser tier: the built services (with the built console) as real processes, the mock provider in this process,
// and Debian's Chromium, installed with apt-get when it is missing.
export default async function globalSetup(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    process.stdout.write(`[browser] ${CHROMIUM} is missing: apt-get install chromium\n`);
    const apt = (args: string[]) =>
      process.getuid?.() === 0
        ? execFileSync('apt-get', args, { stdio: 'inherit' })
        : execFileSync('sudo', ['-n', 'apt-get', ...args], { stdio: 'inherit' });
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  const mock = await startMockProvider({ port: 0 });
  const stack = await withBrowserRun(() => startTestStack(mock.url));
  (globalThis as Record<string, unknown>).__keygateBrowser = { mock, stack };
}
