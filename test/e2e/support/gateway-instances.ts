import {
  freeTestPort,
  startService,
  type RunningService,
  type TestStack,
} from '@keygate/testing/stack/test-stack';

export interface GatewayInstances {
  urls: string[];
  services: RunningService[]; // services[i].stop('SIGKILL') kills instance i as a crash would
  stop(): Promise<void>;
}

// More gateway instances of the test stack's deployment (same Redis, same projection consumer group), each on a
// port of its own, with the overrides (cool-down settings, another provider URL...).
export const startGateways = async (
  stack: TestStack,
  count: number,
  overrides: Record<string, string> = {},
): Promise<GatewayInstances> => {
  const ports = await Promise.all(Array.from({ length: count }, () => freeTestPort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const services = await Promise.all(
    ports.map((p, i) =>
      startService(stack, 'gateway', { ...overrides, GATEWAY_PORT: String(p) }, `${urls[i]}/health/ready`),
    ),
  );
  return { urls, services, stop: async () => void (await Promise.all(services.map((s) => s.stop()))) };
};
