import { ensureTestInfra } from '../libs/testing/src/stack/test-stack';

// Integration tier: the real Kafka, PostgreSQL and Redis, started when they are not running.
export default async function globalSetup(): Promise<void> {
  await ensureTestInfra();
}
