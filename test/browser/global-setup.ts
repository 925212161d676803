import { ensureDebianPackage } from '../../libs/stack/src/apt';
import { startMockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { startTestStack } from '../../libs/testing/src/stack/test-stack';
import { CHROMIUM, withBrowserRun } from './browser-run';

// Browser tier: the built services (with the built console) as real processes, the mock provider in this process,
// and Debian's Chromium, installed with apt-get when it is missing.
export default async function globalSetup(): Promise<void> {
  ensureDebianPackage(CHROMIUM, 'chromium', (m) => process.stdout.write(`[browser] ${m}\n`));
  const mock = await startMockProvider({ port: 0 });
  const stack = await withBrowserRun(() => startTestStack(mock.url));
  (globalThis as Record<string, unknown>).__keygateBrowser = { mock, stack };
}
