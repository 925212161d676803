import { IsIn, IsInt, IsNotEmpty, IsNumber, IsString, Matches, Max, Min } from 'class-validator';
import { Transform } from 'class-transformer';
import { namespaced } from '@keygate/contracts';
import { CommonEnv, commaList } from '@keygate/platform';

const BASE64_32_BYTES = /^[A-Za-z0-9+/]{43}=$/;

export class UsageServiceEnv extends CommonEnv {
  @Matches(/^postgres(ql)?:\/\//, { message: 'USAGE_DATABASE_URL must be a postgres:// URL' })
  USAGE_DATABASE_URL: string = 'postgres://postgres@127.0.0.1:5432/keygate_usage';

  @IsInt() @Min(1) @Max(65535) USAGE_SERVICE_PORT: number = 3002;

  @IsString() KEY_SERVICE_GRPC_URL: string = '127.0.0.1:50051';

  @IsString()
  @IsNotEmpty({ message: 'ADMIN_TOKEN must be set (npm run up generates one into .stack/admin-token)' })
  ADMIN_TOKEN!: string;

  // Webhook secrets are encrypted at rest under a key derived from it (they must stay usable for HMAC).
  @Matches(BASE64_32_BYTES, {
    message: 'KEYGATE_MASTER_KEY must be 32 bytes, base64 (npm run up generates one into .stack/)',
  })
  KEYGATE_MASTER_KEY!: string;

  @IsString() USAGE_CONSUMER_GROUP: string = namespaced('usage-service');

  // Browser origins allowed to call this API (the console, served by key-service at /console/), comma-separated.
  @Transform(commaList)
  @Matches(/^https?:\/\/[^/\s]+$/, {
    each: true,
    message: 'CONSOLE_ORIGINS must be origins like http://host:3001',
  })
  CONSOLE_ORIGINS: string[] = ['http://127.0.0.1:3001', 'http://localhost:3001'];
  // Where a consumer group that never committed starts: earliest (nothing is lost) or latest (test stacks that
  // share long-lived topics with other runs).
  @IsIn(['earliest', 'latest']) USAGE_CONSUMER_START: 'earliest' | 'latest' = 'earliest';
  // Below the broker's group.min.session.timeout.ms (6 s by default) the broker refuses to join.
  @IsInt() @Min(6000) @Max(300_000) USAGE_CONSUMER_SESSION_TIMEOUT_MS: number = 10_000;
  // Partitions of usage.requests ingested at once by one process (each batch in its own transaction; partitions
  // are keyed by key id, so concurrent batches touch disjoint aggregates).
  @IsInt() @Min(1) @Max(64) USAGE_INGEST_CONCURRENCY: number = 3;

  // Raw request rows are kept this many whole days (daily partitions), aggregates forever. It must exceed the
  // longest redelivery of usage.requests: older events are refused, since their dedupe rows may be gone.
  @IsInt() @Min(2) @Max(3650) USAGE_RETENTION_DAYS: number = 30;

  // Anomaly detection: the key's own EWMA baseline of requests and cost per window.
  @IsInt() @Min(1) @Max(86_400) ANOMALY_WINDOW_SECONDS: number = 60;
  @IsNumber() @Min(0.001) @Max(1) ANOMALY_EWMA_ALPHA: number = 0.1;
  @IsNumber() @Min(1) @Max(100) ANOMALY_Z_THRESHOLD: number = 4;
  @IsInt() @Min(1) @Max(10_000) ANOMALY_WARMUP_WINDOWS: number = 10;
  // A quiet key pages no one: a window needs at least this much volume to count as a spike.
  @IsInt() @Min(1) ANOMALY_MIN_REQUESTS: number = 50;
  @Matches(/^\d{1,9}(\.\d{1,12})?$/, { message: 'ANOMALY_MIN_COST_USD must be a decimal string' })
  ANOMALY_MIN_COST_USD: string = '1';
  @IsInt() @Min(1) ANOMALY_AUTH_FAILURES: number = 20;
  @IsInt() @Min(1) @Max(86_400) ANOMALY_AUTH_WINDOW_SECONDS: number = 60;
  @IsInt() @Min(1) @Max(3650) ANOMALY_DORMANT_DAYS: number = 30;
  @IsIn(['true', 'false']) ANOMALY_NEW_NETWORK: string = 'true';
  // One alert per key (or IP) and type within this window.
  @IsInt() @Min(1) @Max(30 * 86_400) ALERT_DEDUPE_SECONDS: number = 3600;

  @IsInt() @Min(1) @Max(50) WEBHOOK_MAX_ATTEMPTS: number = 10;
  @IsInt() @Min(100) @Max(60_000) WEBHOOK_TIMEOUT_MS: number = 5000;
  @IsInt() @Min(10) @Max(3_600_000) WEBHOOK_BACKOFF_BASE_MS: number = 1000;
  @IsInt() @Min(100) @Max(86_400_000) WEBHOOK_BACKOFF_MAX_MS: number = 600_000;

  // How often the budget enforcer retries gRPC calls and looks for period rollovers.
  @IsInt() @Min(100) @Max(3_600_000) BUDGET_TICK_MS: number = 5000;
  @IsInt() @Min(100) @Max(60_000) KEY_SERVICE_GRPC_TIMEOUT_MS: number = 5000;

  // Key care: suspend keys unused this many days (a key's own dormantAfterDays wins; 0 = off by default), and
  // raise rotation_due this many days before a key's rotation period ends. Swept every KEY_CARE_TICK_MS.
  @IsInt() @Min(0) @Max(3650) KEY_DORMANT_AFTER_DAYS: number = 0;
  @IsInt() @Min(100) @Max(86_400_000) KEY_CARE_TICK_MS: number = 3_600_000;
  @IsInt() @Min(1) @Max(365) ROTATION_DUE_DAYS: number = 14;
}
