import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { EventConsumer, EventProducer, createKafka } from '@keygate/messaging';
import {
  AdminAuthenticator,
  AdminRestGuard,
  HEALTH_CHECKS,
  healthParts,
  ManagementErrorFilter,
  MetricsModule,
  loadEnv,
  loadRoutesConfig,
  loggingModule,
  OutboundPolicy,
  strictValidationPipe,
  kafkaLog,
} from '@keygate/platform';
import { Topics } from '@keygate/contracts';
import { adminTokenLookup } from './admin-auth/admin-token.lookup';
import { AlertPublisher } from './alerts/alert-publisher';
import { AlertService } from './alerts/alert.service';
import { AlertsController } from './alerts/alerts.controller';
import { AccessMonitor } from './anomalies/access.monitor';
import { positionNewGroup } from './background/consumer-start';
import { anomalyConfig } from './anomalies/anomaly-config';
import { SpikeMonitor } from './anomalies/spike.monitor';
import { BudgetEnforcer } from './budgets/budget-enforcer';
import { BudgetMonitor } from './budgets/budget.monitor';
import { KeyServiceClient } from './budgets/key-service.client';
import { Pricing } from './costs/pricing';
import { usageMigrations } from './database/data-source';
import { MigrationRunner } from './database/migration-runner';
import { LedgerPartitions } from './ingest/ledger-partitions';
import { UsageIngestConsumer } from './ingest/usage-ingest.consumer';
import { DormancySweep } from './key-care/dormancy.sweep';
import { KeyCareLoop } from './key-care/key-care.loop';
import { RotationSweep } from './key-care/rotation.sweep';
import { KeyDirectoryConsumer } from './key-directory/key-directory.consumer';
import { HygieneController } from './reports/hygiene.controller';
import { HygieneQueryService } from './reports/hygiene.query-service';
import { ExportController } from './usage-api/export.controller';
import { UsageController } from './usage-api/usage.controller';
import { UsageQueryService } from './usage-api/usage.query-service';
import { usageErrorMapper } from './usage-errors';
import { UsageServiceEnv } from './usage-service.env';
import { SecretBox } from './webhooks/secret-box';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher';
import { WebhooksController } from './webhooks/webhooks.controller';
import { WebhooksService } from './webhooks/webhooks.service';

export const usageServiceEnv = loadEnv(UsageServiceEnv);
const env = usageServiceEnv;
const routes = loadRoutesConfig(env.ROUTES_CONFIG);
const DB = getDataSourceToken();

const health = healthParts({
  provide: HEALTH_CHECKS,
  inject: [DB, Kafka],
  useFactory: (db: DataSource, kafka: Kafka) => [
    { name: 'postgres', check: async () => void (await db.query('SELECT 1')) },
    {
      name: 'kafka',
      check: async () => {
        const admin = kafka.admin();
        await admin.connect();
        await admin.disconnect();
      },
    },
  ],
});

@Module({
  imports: [
    loggingModule('usage-service', env.LOG_LEVEL),
    MetricsModule,
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: env.USAGE_DATABASE_URL,
      migrations: usageMigrations,
      migrationsTableName: 'typeorm_migrations',
      migrationsRun: false, // MigrationRunner, under a lock
      synchronize: false,
      retryAttempts: 3,
      retryDelay: 1000,
      extra: { max: 20, connectionTimeoutMillis: 3000 },
    }),
    ...health.imports,
  ],
  controllers: [
    ...health.controllers,
    UsageController,
    ExportController,
    AlertsController,
    WebhooksController,
    HygieneController,
  ],
  providers: [
    ...health.providers,
    { provide: UsageServiceEnv, useValue: env },
    { provide: MigrationRunner, inject: [DB], useFactory: (db: DataSource) => new MigrationRunner(db) },
    { provide: Kafka, useFactory: () => createKafka('usage-service', env.KAFKA_BROKERS, kafkaLog) },
    { provide: Pricing, useValue: new Pricing(routes.pricing) },
    { provide: SecretBox, useValue: new SecretBox(env.KEYGATE_MASTER_KEY) },
    { provide: OutboundPolicy, useValue: new OutboundPolicy({ allowPrivate: env.ALLOW_PRIVATE_UPSTREAMS }) },
    { provide: AlertService, inject: [DB], useFactory: (db: DataSource) => new AlertService(db) },
    UsageQueryService,
    HygieneQueryService,
    WebhooksService,
    {
      provide: AlertPublisher,
      inject: [DB, Kafka, AlertService],
      useFactory: (db: DataSource, kafka: Kafka, alerts: AlertService) =>
        new AlertPublisher(db, new EventProducer(kafka), alerts),
    },
    {
      provide: WebhookDispatcher,
      inject: [DB, SecretBox, AlertService, OutboundPolicy],
      useFactory: (db: DataSource, box: SecretBox, alerts: AlertService, outbound: OutboundPolicy) =>
        new WebhookDispatcher(
          db,
          box,
          {
            maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
            timeoutMs: env.WEBHOOK_TIMEOUT_MS,
            backoffBaseMs: env.WEBHOOK_BACKOFF_BASE_MS,
            backoffMaxMs: env.WEBHOOK_BACKOFF_MAX_MS,
          },
          alerts,
          outbound,
        ),
    },
    {
      provide: BudgetEnforcer,
      inject: [DB],
      useFactory: (db: DataSource) =>
        new BudgetEnforcer(
          db,
          new KeyServiceClient(env.KEY_SERVICE_GRPC_URL, env.ADMIN_TOKEN, env.KEY_SERVICE_GRPC_TIMEOUT_MS),
          env.BUDGET_TICK_MS,
          env.KEY_SERVICE_GRPC_TIMEOUT_MS,
        ),
    },
    {
      provide: KeyCareLoop,
      inject: [DB, AlertService],
      useFactory: (db: DataSource, alerts: AlertService) => {
        const keys = new KeyServiceClient(
          env.KEY_SERVICE_GRPC_URL,
          env.ADMIN_TOKEN,
          env.KEY_SERVICE_GRPC_TIMEOUT_MS,
        );
        return new KeyCareLoop(
          [
            new DormancySweep(db, alerts, keys, env.KEY_DORMANT_AFTER_DAYS),
            new RotationSweep(db, alerts, env.ROTATION_DUE_DAYS),
          ],
          env.KEY_CARE_TICK_MS,
          () => keys.close(),
        );
      },
    },
    {
      provide: LedgerPartitions,
      inject: [DB],
      useFactory: (db: DataSource) => new LedgerPartitions(db, env.USAGE_RETENTION_DAYS),
    },
    {
      provide: UsageIngestConsumer,
      inject: [DB, Kafka, Pricing, LedgerPartitions, AlertService, BudgetEnforcer],
      useFactory: (
        db: DataSource,
        kafka: Kafka,
        pricing: Pricing,
        partitions: LedgerPartitions,
        alerts: AlertService,
        enforcer: BudgetEnforcer,
      ) => {
        const anomalies = anomalyConfig(env);
        // Budgets first: they are what stops spending.
        const listeners = [
          new BudgetMonitor(db, alerts, () => enforcer.wake()),
          new SpikeMonitor(db, alerts, anomalies),
          new AccessMonitor(db, alerts, anomalies),
        ];
        return new UsageIngestConsumer(db, new EventConsumer(kafka), pricing, partitions, listeners, {
          groupId: env.USAGE_CONSUMER_GROUP,
          sessionTimeout: env.USAGE_CONSUMER_SESSION_TIMEOUT_MS,
          concurrency: env.USAGE_INGEST_CONCURRENCY,
          retentionDays: env.USAGE_RETENTION_DAYS,
          positionNewGroup: () =>
            positionNewGroup(kafka, env.USAGE_CONSUMER_GROUP, Topics.usageRequests, env.USAGE_CONSUMER_START),
        });
      },
    },
    {
      provide: KeyDirectoryConsumer,
      inject: [DB, Kafka],
      useFactory: (db: DataSource, kafka: Kafka) =>
        new KeyDirectoryConsumer(
          db,
          new EventConsumer(kafka),
          `${env.USAGE_CONSUMER_GROUP}-key-directory`,
          env.USAGE_CONSUMER_SESSION_TIMEOUT_MS,
          () =>
            positionNewGroup(
              kafka,
              `${env.USAGE_CONSUMER_GROUP}-key-directory`,
              Topics.keysEvents,
              env.USAGE_CONSUMER_START,
            ),
        ),
    },
    {
      provide: AdminAuthenticator,
      inject: [DB],
      useFactory: (db: DataSource) => new AdminAuthenticator(env.ADMIN_TOKEN, adminTokenLookup(db)),
    },
    { provide: APP_GUARD, useClass: AdminRestGuard },
    { provide: APP_PIPE, useFactory: strictValidationPipe },
    { provide: APP_FILTER, useValue: new ManagementErrorFilter(usageErrorMapper) },
  ],
})
export class UsageServiceModule {}
