import { Transform } from 'class-transformer';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { namespaced } from '@keygate/contracts';
import { CommonEnv } from '@keygate/platform';

export class GatewayEnv extends CommonEnv {
  @IsInt() @Min(1) @Max(65535) GATEWAY_PORT: number = 8080;

  // Proxies whose X-Forwarded-For is believed; empty means the TCP peer is the client.
  @Transform(({ value }) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : value,
  )
  @Matches(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, {
    each: true,
    message: 'TRUSTED_PROXIES must be a comma-separated CIDR list',
  })
  TRUSTED_PROXIES: string[] = [];

  // Key-guessing and stuffing (issue 20): INVALID_KEY_COOLDOWN_FAILURES invalid keys from one client network (IPv4 /24,
  // IPv6 /48) within the window refuse that network with 429 for INVALID_KEY_COOLDOWN_SECONDS on every instance.
  // 0 (the default) turns the cool-down off; usage-service's invalid_key_burst alert is raised either way. Never
  // applied to TRUSTED_PROXIES.
  @IsInt() @Min(0) @Max(86_400) INVALID_KEY_COOLDOWN_SECONDS: number = 0;
  @IsInt() @Min(1) @Max(1_000_000) INVALID_KEY_COOLDOWN_FAILURES: number = 20;
  @IsInt() @Min(1) @Max(86_400) INVALID_KEY_COOLDOWN_WINDOW_SECONDS: number = 60;

  // Consumer group of the shared Redis projection; every instance also listens for invalidations itself.
  @IsString() GATEWAY_PROJECTION_GROUP: string = namespaced('gateway-projection');

  // In-process cache: entries and how long a cached key may be served without hearing from Redis.
  @IsInt() @Min(0) @Max(10_000_000) AUTH_CACHE_MAX: number = 100_000;
  @IsInt() @Min(0) @Max(3_600_000) AUTH_CACHE_TTL_MS: number = 30_000;
  @IsInt() @Min(0) @Max(3_600_000) AUTH_STALE_SERVE_MS: number = 60_000;
  @IsInt() @Min(10) @Max(60_000) REDIS_TIMEOUT_MS: number = 250;
  // How often group routes and provider credentials are reloaded whatever the change notices said.
  @IsInt() @Min(1000) @Max(30_000) PROJECTION_RECONCILE_MS: number = 30_000;

  // What an admitted request holds in Redis — its concurrency lease (rateLimit.maxConcurrentRequests) and its
  // budget hold — is given back when it ends; what a gateway that died was holding expires after this long (and a
  // request running longer stops counting against the cap; its cost is charged when it ends all the same).
  @IsInt() @Min(1000) @Max(86_400_000) IN_FLIGHT_TTL_MS: number = 300_000;

  // Gateway processes on GATEWAY_PORT (workers.ts; read before this class, by main.ts): default the cores.
  @IsOptional() @IsInt() @Min(1) @Max(64) GATEWAY_WORKERS?: number;

  @IsInt() @Min(1) @Max(100_000) USAGE_BUFFER_MAX: number = 10_000;
  // How long a usage event waits in memory for the next send to Kafka (a full send's worth leaves at once): the
  // ledger is that much behind, and a process killed outright loses at most that much. Each send costs kafkajs and
  // the broker milliseconds of CPU whatever it carries: at 100 ms a gateway at c=10 used 5-23% more CPU per request
  // and served a fifth fewer, and the broker used 2-3 times as much per request (bench/README.md, 2026-12-05).
  @IsInt() @Min(1) @Max(60_000) USAGE_FLUSH_MS: number = 500;
  // Usage events that do not fit in the buffer while Kafka is slow or away are journaled on disk and replayed when
  // it is back; a full journal makes the gateway refuse requests (503 usage_backlog_full). One directory per
  // gateway process: by default .stack/usage-journal/gateway-<GATEWAY_PORT> under the working directory.
  @IsOptional() @IsString() @IsNotEmpty() USAGE_JOURNAL_DIR?: string;
  @IsInt() @Min(1024 * 1024) @Max(1024 ** 4) USAGE_JOURNAL_MAX_BYTES: number = 1024 ** 3;
  @IsInt() @Min(1024) @Max(64 * 1024 * 1024) GATEWAY_BODY_LIMIT_BYTES: number = 4 * 1024 * 1024;

  @IsOptional()
  @Matches(/^[A-Za-z0-9+/]{43}=$/, { message: 'KEYGATE_MASTER_KEY must be 32 bytes in base64' })
  KEYGATE_MASTER_KEY?: string;
}
