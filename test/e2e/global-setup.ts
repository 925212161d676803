import { startMockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { startTestStack } from '../../libs/testing/src/stack/test-stack';

// E2E tier: the three built services as real processes, and the mock provider in this process.
export default async function globalSetup(): Promise<void> {
  const mock = await startMockProvider({ port: 0 });
  const stack = await startTestStack(mock.url);
  (globalThis as Record<string, unknown>).__keygate = { mock, stack };
}
