import { randomBytes } from 'node:crypto';
import { dropDatabase, ensurePostgres } from '@keygate/stack';
import { freeTestPort, startService, type TestStack } from '@keygate/testing/stack/test-stack';

export interface UsageInstance {
  url: string;
  databaseUrl: string;
  logFile: string;
  stop(): Promise<void>;
}

// A usage-service of its own for a test file: the stack's env (Kafka, key-service gRPC, admin token) with its own
// database and consumer groups, positioned at the end of the shared topics (USAGE_CONSUMER_START=latest) so it
// sees this run's traffic at once instead of replaying what other runs left on usage.requests. Overrides set
// test-sized thresholds (anomaly windows, budget tick).
export const startUsageInstance = async (
  stack: TestStack,
  overrides: Record<string, string> = {},
): Promise<UsageInstance> => {
  const run = randomBytes(4).toString('hex');
  const port = await freeTestPort();
  const databaseUrl = stack.usageDatabaseUrl.replace(/\/[^/]+$/, `/keygate_usage_e2e_own_${run}`);
  await ensurePostgres([databaseUrl], () => undefined);
  const url = `http://127.0.0.1:${port}`;
  const service = await startService(
    stack,
    'usage-service',
    {
      USAGE_DATABASE_URL: databaseUrl,
      USAGE_SERVICE_PORT: String(port),
      USAGE_CONSUMER_GROUP: `usage-e2e-own-${run}`,
      USAGE_CONSUMER_START: 'latest',
      ...overrides,
    },
    `${url}/health/ready`,
  );
  return {
    url,
    databaseUrl,
    logFile: service.logFile,
    stop: async () => {
      await service.stop();
      await dropDatabase(databaseUrl).catch(() => undefined);
    },
  };
};
