import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

const HOST_PORT = /^[^\s,:]+:\d{1,5}$/;
export const commaList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : value;

// "true"/"false" as a boolean; anything else stays a string and fails @IsBoolean with the variable's name.
const flag = ({ obj, key }: { obj: Record<string, unknown>; key: string }) => {
  const raw = obj[key];
  return raw === 'true' || raw === true ? true : raw === 'false' || raw === false ? false : raw;
};

// Variables shared by the three services (DESIGN.md § Configuration).
export class CommonEnv {
  @Transform(commaList)
  @Matches(HOST_PORT, { each: true, message: 'KAFKA_BROKERS must be a comma-separated list of host:port' })
  KAFKA_BROKERS: string[] = ['127.0.0.1:9092'];

  // The stack's namespace on a shared broker and Redis: prefixes topics, default consumer groups and the pub/sub
  // channel (libs/contracts topics.ts reads it when it loads; validated here so `--help`-style errors list it).
  @Matches(/^[A-Za-z0-9._-]{0,100}$/, { message: 'KAFKA_TOPIC_PREFIX must match [A-Za-z0-9._-]{0,100}' })
  KAFKA_TOPIC_PREFIX: string = '';

  @IsString()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must start with redis:// or rediss://' })
  REDIS_URL: string = 'redis://127.0.0.1:6379/0';

  // Set: a Redis Cluster (seed nodes, host:port,...) instead of REDIS_URL; REDIS_URL's password and TLS still apply.
  @IsOptional()
  @Transform(commaList)
  @Matches(HOST_PORT, {
    each: true,
    message: 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port',
  })
  REDIS_CLUSTER_NODES?: string[];

  @IsString()
  @IsNotEmpty()
  ROUTES_CONFIG: string = 'config/routes.yaml';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  @IsIn(['development', 'test', 'production'])
  NODE_ENV: string = 'development';

  // Webhook and provider URLs may resolve to loopback/private/unique-local addresses (link-local never).
  @Transform(flag)
  @IsBoolean({ message: 'ALLOW_PRIVATE_UPSTREAMS must be true or false' })
  ALLOW_PRIVATE_UPSTREAMS: boolean = false;

  // Slow and idle clients (libs/platform/src/http/connection-limits.ts).
  @IsInt() @Min(100) @Max(600000) HTTP_HEADERS_TIMEOUT_MS: number = 10000;
  @IsInt() @Min(100) @Max(3600000) HTTP_REQUEST_TIMEOUT_MS: number = 30000;
  @IsInt() @Min(100) @Max(600000) HTTP_KEEP_ALIVE_TIMEOUT_MS: number = 65000;

  @IsInt()
  @Min(0)
  @Max(600000)
  SHUTDOWN_TIMEOUT_MS: number = 10000;
}

export const httpTimeouts = (env: CommonEnv) => ({
  headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
});

export const portField = () => [IsInt(), Min(1), Max(65535)];
