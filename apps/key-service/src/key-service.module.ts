import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { EventConsumer, EventProducer, createKafka } from '@keygate/messaging';
import {
  AdminAuthenticator,
  AdminGrpcGuard,
  AdminRestGuard,
  HEALTH_CHECKS,
  healthParts,
  ManagementErrorFilter,
  MetricsModule,
  loadEnv,
  loadRoutesConfig,
  loggingModule,
  OutboundPolicy,
  ROUTES_CONFIG,
  kafkaLog,
} from '@keygate/platform';
import { AdminTokensController } from './admin-auth/admin-tokens.controller';
import { AdminTokensService } from './admin-auth/admin-tokens.service';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeysService } from './api-keys/api-keys.service';
import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { keysMigrations } from './database/data-source';
import { domainErrorMapper } from './domain-errors';
import { CommandHandler } from './event-store/command-handler';
import { EventStore } from './event-store/event-store';
import { GroupsController } from './groups/groups.controller';
import { GroupsService } from './groups/groups.service';
import { AdminGrpcController } from './grpc/admin.grpc-controller';
import { GroupsGrpcController } from './grpc/groups.grpc-controller';
import { KeysGrpcController } from './grpc/keys.grpc-controller';
import { ProvidersGrpcController } from './grpc/providers.grpc-controller';
import { KeyServiceEnv } from './key-service.env';
import { ConsoleController } from './console/console.controller';
import { KeyAtService } from './key-history/key-at.service';
import { LastUsedConsumer } from './last-used/last-used.consumer';
import { GithubSecretScanningController } from './leak-reports/github-secret-scanning.controller';
import { LeakReportsController } from './leak-reports/leak-reports.controller';
import { LeakReportsService } from './leak-reports/leak-reports.service';
import { OutboxRelay } from './outbox/outbox-relay';
import { ProjectionFence } from './outbox/projection-fence';
import { CredentialCipher, parseMasterKey } from './providers/credential-crypto';
import { ProvidersController } from './providers/providers.controller';
import { ProvidersService } from './providers/providers.service';
import { RoutesController } from './routes.controller';

export const keyServiceEnv = loadEnv(KeyServiceEnv);
const routesConfig = loadRoutesConfig(keyServiceEnv.ROUTES_CONFIG);

const health = healthParts({
  provide: HEALTH_CHECKS,
  inject: [getDataSourceToken(), EventProducer],
  useFactory: (db: DataSource, producer: EventProducer) => [
    { name: 'postgres', check: async () => void (await db.query('SELECT 1')) },
    { name: 'kafka', check: async () => (producer.isConnected ? undefined : producer.connect()) },
  ],
});

@Module({
  imports: [
    loggingModule('key-service', keyServiceEnv.LOG_LEVEL),
    MetricsModule,
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: keyServiceEnv.KEYS_DATABASE_URL,
      migrations: keysMigrations,
      migrationsTableName: 'typeorm_migrations',
      migrationsRun: true,
      synchronize: false,
      retryAttempts: 3,
      retryDelay: 1000,
      extra: { max: 20, connectionTimeoutMillis: 3000 },
    }),
    ...health.imports,
  ],
  controllers: [
    ...health.controllers,
    LeakReportsController,
    GithubSecretScanningController,
    ApiKeysController,
    GroupsController,
    RoutesController,
    ProvidersController,
    AdminTokensController,
    AuditController,
    ConsoleController,
    KeysGrpcController,
    GroupsGrpcController,
    ProvidersGrpcController,
    AdminGrpcController,
  ],
  providers: [
    ...health.providers,
    { provide: KeyServiceEnv, useValue: keyServiceEnv },
    { provide: ROUTES_CONFIG, useValue: routesConfig },
    {
      provide: OutboundPolicy,
      useValue: new OutboundPolicy({ allowPrivate: keyServiceEnv.ALLOW_PRIVATE_UPSTREAMS }),
    },
    { provide: Kafka, useFactory: () => createKafka('key-service', keyServiceEnv.KAFKA_BROKERS, kafkaLog) },
    { provide: EventProducer, useFactory: (kafka: Kafka) => new EventProducer(kafka), inject: [Kafka] },
    EventStore,
    CommandHandler,
    ApiKeysService,
    LeakReportsService,
    KeyAtService,
    GroupsService,
    ProvidersService,
    AdminTokensService,
    AuditService,
    AdminGrpcGuard,
    {
      provide: CredentialCipher,
      useValue: new CredentialCipher(parseMasterKey(keyServiceEnv.KEYGATE_MASTER_KEY)),
    },
    {
      provide: OutboxRelay,
      useFactory: (db: DataSource, producer: EventProducer) =>
        new OutboxRelay(db, producer, keyServiceEnv.OUTBOX_POLL_MS),
      inject: [getDataSourceToken(), EventProducer],
    },
    {
      provide: ProjectionFence,
      useFactory: (db: DataSource, kafka: Kafka) =>
        new ProjectionFence(
          db,
          kafka,
          keyServiceEnv.GATEWAY_PROJECTION_GROUP,
          keyServiceEnv.PROJECTION_FENCE_MS,
        ),
      inject: [getDataSourceToken(), Kafka],
    },
    {
      provide: LastUsedConsumer,
      useFactory: (db: DataSource, kafka: Kafka) =>
        new LastUsedConsumer(db, new EventConsumer(kafka), keyServiceEnv.KEY_SERVICE_LAST_USED_GROUP),
      inject: [getDataSourceToken(), Kafka],
    },
    {
      provide: AdminAuthenticator,
      useFactory: (tokens: AdminTokensService) =>
        new AdminAuthenticator(keyServiceEnv.ADMIN_TOKEN, tokens.activeTokenByHash),
      inject: [AdminTokensService],
    },
    { provide: APP_GUARD, useClass: AdminRestGuard },
    { provide: APP_FILTER, useValue: new ManagementErrorFilter(domainErrorMapper) },
  ],
})
export class KeyServiceModule {}
