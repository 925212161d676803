import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

// docker-compose.yml cannot be run here (no Docker engine); this checks what can be checked without one.
describe('docker-compose.yml', () => {
  const root = join(__dirname, '..');
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        build?: string;
        command?: string[];
        healthcheck?: { test: unknown };
        environment?: Record<string, unknown>;
        profiles?: string[];
        depends_on?: Record<string, unknown>;
      }
    >;
  };

  it.each([
    'kafka',
    'postgres',
    'redis',
    'key-service',
    'gateway',
    'usage-service',
    'otel-collector',
    'jaeger',
    'mock-provider',
    'prometheus',
  ])('%s is defined with a health check', (name) => {
    const service = compose.services[name];
    expect(service).toBeDefined();
    expect(service.healthcheck?.test).toBeDefined();
  });

  it('runs Kafka 3.9 in KRaft mode', () => {
    expect(compose.services.kafka.image).toMatch(/^apache\/kafka:3\.9\./);
    expect(compose.services.kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('creates the topics with their declared settings (keys.events kept forever) before the services start', () => {
    expect(compose.services.topics.command).toEqual(['node', 'dist/scripts/topics.js']);
    expect(readFileSync(join(root, 'scripts', 'topics.ts'), 'utf8')).toContain(
      'ensureTopics(brokers, TopicSpecs',
    );
  });

  it('keeps the gateway usage journal on a volume', () => {
    const gateway = compose.services.gateway as { environment?: Record<string, unknown>; volumes?: string[] };
    expect(gateway.environment?.USAGE_JOURNAL_DIR).toBe('/var/lib/keygate/usage-journal');
    expect(gateway.volumes).toEqual(['gateway-journal:/var/lib/keygate/usage-journal']);
  });

  it('mounts the Prometheus rules of infra/prometheus and scrapes each service', () => {
    const prometheus = compose.services.prometheus as { volumes?: string[]; command?: string[] };
    expect(prometheus.volumes).toEqual(['./infra/prometheus:/etc/prometheus/keygate:ro']);
    expect(prometheus.command).toContain('--config.file=/etc/prometheus/keygate/prometheus.yml');
    const config = parse(readFileSync(join(root, 'infra', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(config.rule_files).toEqual(['/etc/prometheus/keygate/*.rules.yml']);
    expect(config.scrape_configs.map((c) => [c.job_name, c.static_configs[0].targets])).toEqual([
      ['key-service', ['key-service:3001']],
      ['gateway', ['gateway:8080']],
      ['usage-service', ['usage-service:3002']],
    ]);
  });

  it('has a cluster profile: six cluster-enabled Redis nodes and a one-shot init that makes three masters with a replica each', () => {
    const nodes = Object.keys(compose.services).filter(
      (name) =>
        compose.services[name].profiles?.includes('cluster') &&
        compose.services[name].command?.includes('--cluster-enabled'),
    );
    expect(nodes).toHaveLength(6);
    const init = compose.services['redis-cluster-init'];
    expect(init.profiles).toEqual(['cluster']);
    expect(init.command?.join(' ')).toMatch(
      /redis-cli --cluster create .* --cluster-replicas 1 --cluster-yes/,
    );
    expect(Object.keys(init.depends_on ?? {})).toEqual(nodes);
    for (const name of ['key-service', 'gateway', 'usage-service']) {
      expect(compose.services[name].environment).toHaveProperty('REDIS_CLUSTER_NODES');
      // Not required: without the profile the services start on the single `redis`.
      expect(compose.services[name].depends_on?.['redis-cluster-init']).toEqual({
        condition: 'service_completed_successfully',
        required: false,
      });
    }
  });

  it('has a cluster profile: three KRaft brokers of one cluster, topics kept on two in-sync replicas', () => {
    const brokers = ['kafka-1', 'kafka-2', 'kafka-3'].map((name) => compose.services[name]);
    expect(brokers.map((b) => b.profiles)).toEqual([['cluster'], ['cluster'], ['cluster']]);
    expect(brokers.map((b) => b.environment?.KAFKA_NODE_ID)).toEqual([1, 2, 3]);
    for (const b of brokers)
      expect(b.environment).toMatchObject({
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093',
        KAFKA_MIN_INSYNC_REPLICAS: 2,
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 3,
        CLUSTER_ID: brokers[0].environment?.CLUSTER_ID,
      });
    for (const name of ['key-service', 'gateway', 'usage-service']) {
      expect(compose.services[name].depends_on?.['kafka-3']).toEqual({
        condition: 'service_healthy',
        required: false,
      });
    }
  });

  it.each(['key-service', 'gateway', 'usage-service'])('%s runs its own built entry point', (name) => {
    const command = compose.services[name].command ?? [];
    expect(command[1]).toBe(`dist/apps/${name}/src/main.js`);
    expect(existsSync(join(root, 'apps', name, 'src', 'main.ts'))).toBe(true);
    expect(compose.services[name].environment?.KAFKA_BROKERS).toBe('${KAFKA_BROKERS:-kafka:9092}');
  });
});
