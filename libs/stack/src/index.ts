import { ensureKafka, type EnsureKafkaResult } from './kafka';
import { ensureTopics, type TopicSpec } from './kafka-topics';
import { ensurePostgres, type EnsurePostgresResult } from './postgres';
import { ensureRedis, type EnsureRedisResult } from './redis';
import { errorMessage, type InfraLog } from './wait';

export { ensureKafka, kafkaAnswers, stopKafka } from './kafka';
export type { EnsureKafkaOptions, EnsureKafkaResult } from './kafka';
export { ensureTopics } from './kafka-topics';
export { ensureKafkaCluster, kafkaClusterBrokers, stopKafkaCluster } from './kafka-cluster';
export type { KafkaCluster, KafkaClusterOptions } from './kafka-cluster';
export type { TopicSpec } from './kafka-topics';
export { dropDatabase, ensurePostgres, quoteIdent } from './postgres';
export type { EnsurePostgresResult } from './postgres';
export { ensureRedis } from './redis';
export type { EnsureRedisResult } from './redis';
export { ensureRedisCluster, redisClusterNodes, stopRedisCluster } from './redis-cluster';
export type { RedisCluster, RedisClusterOptions } from './redis-cluster';
export { ensureDebianPackage } from './apt';
export { resolveMavenArtifacts } from './maven';
export {
  ensurePrometheus,
  infraPath,
  prometheusConfig,
  PROMTOOL,
  startPrometheus,
  startZipkin,
  stopObserved,
} from './observe';
export type { ObservedProcess, ScrapeTarget } from './observe';
export { commandExists, isPortOpen, redactUrl, runCommand, sleep, tailFile, waitFor } from './wait';
export type { InfraLog, RunResult, WaitForOptions } from './wait';

export interface EnsureInfraOptions {
  kafkaBrokers: string[];
  databaseUrls: string[];
  redisUrl: string;
  stackDir: string;
  topics: readonly TopicSpec[];
  log: InfraLog;
}

export interface EnsureInfraResult {
  kafka: EnsureKafkaResult;
  postgres: EnsurePostgresResult;
  redis: EnsureRedisResult;
}

/**
 * The one code path behind `npm run up` and the jest global setup: Kafka, PostgreSQL and Redis answer,
 * the databases and topics exist. Returns what it started so the caller can stop exactly that.
 * On failure the error lists every part that failed; a Kafka started by this call is left running
 * (its pid file lets `stopKafka(stackDir)` stop it).
 */
export async function ensureInfra(opts: EnsureInfraOptions): Promise<EnsureInfraResult> {
  const { log } = opts;
  // Kafka's first start (mvn, JVM boot) dominates; the other two are checked meanwhile.
  const [kafka, postgres, redis] = await Promise.allSettled([
    ensureKafka({ brokers: opts.kafkaBrokers, stackDir: opts.stackDir, log }),
    ensurePostgres(opts.databaseUrls, log),
    ensureRedis(opts.redisUrl, log, opts.stackDir),
  ]);
  const failures: string[] = [];
  if (kafka.status === 'rejected') failures.push(`Kafka: ${errorMessage(kafka.reason)}`);
  if (postgres.status === 'rejected') failures.push(`PostgreSQL: ${errorMessage(postgres.reason)}`);
  if (redis.status === 'rejected') failures.push(`Redis: ${errorMessage(redis.reason)}`);
  if (kafka.status === 'rejected' || postgres.status === 'rejected' || redis.status === 'rejected') {
    throw new Error(`Infrastructure is not available:\n${failures.join('\n')}`);
  }

  await ensureTopics(opts.kafkaBrokers, opts.topics, log);
  return { kafka: kafka.value, postgres: postgres.value, redis: redis.value };
}
