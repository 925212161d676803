import type { MockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { stopTestInfra, stopTestStack, type TestStack } from '../../libs/testing/src/stack/test-stack';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__keygate as
    { mock: MockProvider; stack: TestStack } | undefined;
  if (state) {
    await stopTestStack(state.stack);
    await state.mock.close();
  }
  await stopTestInfra();
}
