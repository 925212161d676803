import type { PrivateKafka } from './support/private-infra';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __faultsKafka?: PrivateKafka }).__faultsKafka?.destroy();
}
