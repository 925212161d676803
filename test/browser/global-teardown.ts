import type { MockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { stopTestInfra, stopTestStack, type TestStack } from '../../libs/testing/src/stack/test-stack';
import { withBrowserRun } from './browser-run';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__keygateBrowser as
    { mock: MockProvider; stack: TestStack } | undefined;
  if (state) {
    await withBrowserRun(() => stopTestStack(state.stack));
    await state.mock.close();
  }
  await stopTestInfra();
}
