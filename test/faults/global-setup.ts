import { startPrivateKafka } from './support/private-infra';

// One private broker for the fault files that break something else (Redis, PostgreSQL, usage-service): the shared
// broker carries everyone's traffic (benchmarks produce millions of key events), and a projection that must first
// wade through it makes recovery times meaningless. kafka-outage starts its own broker, which it stops.
export default async function globalSetup(): Promise<void> {
  const kafka = await startPrivateKafka();
  process.env.KEYGATE_FAULTS_KAFKA = kafka.brokers.join(',');
  (globalThis as { __faultsKafka?: typeof kafka }).__faultsKafka = kafka;
}
