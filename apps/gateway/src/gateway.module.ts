import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Redis } from 'ioredis';
import { Kafka } from 'kafkajs';
import { EventConsumer, ThreadedEventProducer, createKafka, type EventSender } from '@keygate/messaging';
import {
  HEALTH_CHECKS,
  healthParts,
  MetricsModule,
  loadEnv,
  loadRoutesConfig,
  loggingModule,
  ROUTES_CONFIG,
  type RoutesConfig,
  kafkaLog,
  OutboundPolicy,
} from '@keygate/platform';
import { KeyAuthenticator } from './auth/key-authenticator';
import { ipIn, parseCidrs } from './auth/ip-rules';
import { NetworkCooldown } from './auth/network-cooldown';
import { GatewayEnv } from './gateway.env';
import { KeyProjectionConsumer } from './key-projection/key-projection.consumer';
import { KeyProjectionStore } from './key-projection/key-projection.store';
import { ProjectionHealer } from './key-projection/projection-healer';
import { CredentialVault } from './proxy/credentials';
import { OpenAiErrorFilter } from './proxy/openai-error.filter';
import { ProxyRoutes } from './proxy/proxy.routes';
import { ProxyService } from './proxy/proxy.service';
import { UpstreamClient } from './proxy/upstream';
import { BudgetGuard } from './budget/budget-guard';
import { Admission } from './admission/admission';
import { UsageEmitter } from './usage-events/usage-emitter';
import { connectRedis } from './redis/redis-client';

export const gatewayEnv = loadEnv(GatewayEnv);
const SUBSCRIBER = Symbol('SUBSCRIBER');
const PROJECTION_REDIS = Symbol('PROJECTION_REDIS');
const BATCHING_REDIS = Symbol('BATCHING_REDIS');
const PROJECTION_WRITER = Symbol('PROJECTION_WRITER');
const USAGE_PRODUCER = Symbol('USAGE_PRODUCER');

const health = healthParts({
  provide: HEALTH_CHECKS,
  inject: [Redis, USAGE_PRODUCER],
  useFactory: (redis: Redis, producer: EventSender) => [
    { name: 'redis', check: async () => void (await redis.ping()) },
    { name: 'kafka', check: async () => (producer.isConnected ? undefined : producer.connect()) },
  ],
});

@Module({
  imports: [loggingModule('gateway', gatewayEnv.LOG_LEVEL, false), MetricsModule, ...health.imports],
  controllers: health.controllers,
  providers: [
    ...health.providers,
    { provide: APP_FILTER, useClass: OpenAiErrorFilter },
    ProxyRoutes,
    { provide: GatewayEnv, useValue: gatewayEnv },
    {
      provide: ROUTES_CONFIG,
      useFactory: (env: GatewayEnv) => loadRoutesConfig(env.ROUTES_CONFIG),
      inject: [GatewayEnv],
    },
    {
      // Commands fail fast instead of queueing while Redis is away: the authenticator decides what an outage means.
      provide: Redis,
      useFactory: (env: GatewayEnv) => connectRedis(env, { offlineQueue: false }),
      inject: [GatewayEnv],
    },
    {
      // Admission's second connection, on a Redis Cluster only: while many of its calls are in flight, those of one
      // event-loop turn leave in one write per node (admission.ts; a single Redis's are held on the first one).
      provide: BATCHING_REDIS,
      useFactory: (env: GatewayEnv) =>
        env.REDIS_CLUSTER_NODES?.length
          ? connectRedis(env, { autoPipelining: true, offlineQueue: false })
          : null,
      inject: [GatewayEnv],
    },
    {
      provide: SUBSCRIBER,
      useFactory: (env: GatewayEnv) => connectRedis(env, { subscriber: true }),
      inject: [GatewayEnv],
    },
    {
      provide: Kafka,
      useFactory: (env: GatewayEnv) => createKafka('gateway', env.KAFKA_BROKERS, kafkaLog),
      inject: [GatewayEnv],
    },
    {
      // Usage events leave through kafkajs in a worker thread: its record encoding stays off the request loop.
      provide: USAGE_PRODUCER,
      useFactory: (env: GatewayEnv) => new ThreadedEventProducer('gateway', env.KAFKA_BROKERS, kafkaLog),
      inject: [GatewayEnv],
    },
    {
      provide: KeyProjectionStore,
      useFactory: (redis: Redis) => new KeyProjectionStore(redis),
      inject: [Redis],
    },
    {
      // The projection's writes (the fold, a replay) on a connection of their own. Redis answers a connection's
      // commands in order: on the request path's connection a replay's large batch, or a cluster commit's WAIT for
      // its replica (up to 250 ms, and WAIT holds the connection), would hold up every admission queued behind it.
      provide: PROJECTION_REDIS,
      useFactory: (env: GatewayEnv) => connectRedis(env, { offlineQueue: false }),
      inject: [GatewayEnv],
    },
    {
      provide: PROJECTION_WRITER,
      useFactory: (redis: Redis) => new KeyProjectionStore(redis),
      inject: [PROJECTION_REDIS],
    },
    {
      provide: KeyProjectionConsumer,
      useFactory: (kafka: Kafka, store: KeyProjectionStore, env: GatewayEnv, healer: ProjectionHealer) =>
        new KeyProjectionConsumer(
          new EventConsumer(kafka),
          store,
          env.GATEWAY_PROJECTION_GROUP,
          'live',
          () => void healer.check(),
        ),
      inject: [Kafka, PROJECTION_WRITER, GatewayEnv, ProjectionHealer],
    },
    {
      provide: KeyAuthenticator,
      useFactory: (store: KeyProjectionStore, subscriber: Redis, env: GatewayEnv, routes: RoutesConfig) =>
        new KeyAuthenticator(store, subscriber, {
          cacheMax: env.AUTH_CACHE_MAX,
          cacheTtlMs: env.AUTH_CACHE_TTL_MS,
          staleServeMs: env.AUTH_STALE_SERVE_MS,
          redisTimeoutMs: env.REDIS_TIMEOUT_MS,
          reconcileMs: env.PROJECTION_RECONCILE_MS,
          tiers: routes.tiers,
        }),
      inject: [KeyProjectionStore, SUBSCRIBER, GatewayEnv, ROUTES_CONFIG],
    },
    {
      provide: ProjectionHealer,
      useFactory: (store: KeyProjectionStore, redis: Redis, kafka: Kafka) =>
        new ProjectionHealer(store, redis, kafka),
      inject: [PROJECTION_WRITER, PROJECTION_REDIS, Kafka],
    },
    {
      provide: Admission,
      useFactory: (redis: Redis, batching: Redis | null, env: GatewayEnv) =>
        new Admission(redis, env.IN_FLIGHT_TTL_MS, batching),
      inject: [Redis, BATCHING_REDIS, GatewayEnv],
    },
    {
      provide: BudgetGuard,
      useFactory: (routes: RoutesConfig) => new BudgetGuard(routes.pricing),
      inject: [ROUTES_CONFIG],
    },
    {
      // Provider URLs are checked where they are set (key-service) and again at every connection the gateway makes.
      provide: UpstreamClient,
      useFactory: (env: GatewayEnv) =>
        new UpstreamClient({
          connect: new OutboundPolicy({ allowPrivate: env.ALLOW_PRIVATE_UPSTREAMS }).connect,
        }),
      inject: [GatewayEnv],
    },
    {
      provide: UsageEmitter,
      useFactory: (producer: EventSender, env: GatewayEnv) =>
        new UsageEmitter(producer, {
          maxBuffered: env.USAGE_BUFFER_MAX,
          flushMs: env.USAGE_FLUSH_MS,
          journalDir: join(
            env.USAGE_JOURNAL_DIR ?? join('.stack', 'usage-journal', `gateway-${env.GATEWAY_PORT}`),
            // One journal per worker process (workers.ts): none shares a file with another.
            process.env.GATEWAY_WORKER_INDEX ? `worker-${process.env.GATEWAY_WORKER_INDEX}` : '',
          ),
          journalMaxBytes: env.USAGE_JOURNAL_MAX_BYTES,
        }),
      inject: [USAGE_PRODUCER, GatewayEnv],
    },
    {
      provide: ProxyService,
      useFactory: (
        auth: KeyAuthenticator,
        admission: Admission,
        upstream: UpstreamClient,
        usage: UsageEmitter,
        budgets: BudgetGuard,
        routes: RoutesConfig,
        env: GatewayEnv,
        vault: CredentialVault,
        cooldown: NetworkCooldown,
      ) =>
        new ProxyService(auth, admission, upstream, vault, usage, budgets, cooldown, {
          routes,
          trustedProxies: env.TRUSTED_PROXIES,
          redisTimeoutMs: env.REDIS_TIMEOUT_MS,
        }),
      inject: [
        KeyAuthenticator,
        Admission,
        UpstreamClient,
        UsageEmitter,
        BudgetGuard,
        ROUTES_CONFIG,
        GatewayEnv,
        CredentialVault,
        NetworkCooldown,
      ],
    },
    {
      provide: NetworkCooldown,
      useFactory: (redis: Redis, subscriber: Redis, env: GatewayEnv) => {
        const trusted = parseCidrs(env.TRUSTED_PROXIES);
        return new NetworkCooldown(redis, subscriber, {
          seconds: env.INVALID_KEY_COOLDOWN_SECONDS,
          failures: env.INVALID_KEY_COOLDOWN_FAILURES,
          windowSeconds: env.INVALID_KEY_COOLDOWN_WINDOW_SECONDS,
          exempt: (ip) => ipIn(ip, trusted),
        });
      },
      inject: [Redis, SUBSCRIBER, GatewayEnv],
    },
    {
      provide: CredentialVault,
      useFactory: (store: KeyProjectionStore, subscriber: Redis, env: GatewayEnv) =>
        new CredentialVault(store, subscriber, env.KEYGATE_MASTER_KEY, env.PROJECTION_RECONCILE_MS),
      inject: [KeyProjectionStore, SUBSCRIBER, GatewayEnv],
    },
  ],
})
export class GatewayModule {}
