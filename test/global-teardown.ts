import { stopTestInfra } from '../libs/testing/src/stack/test-stack';

export default async function globalTeardown(): Promise<void> {
  await stopTestInfra();
}
