import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

const HOST_PORT = /^[^\s,:]+:\d{1,5}$/;
export const commaList = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : value;

// Variables shared by the three services (DESIGN.md § Configuration).
export class CommonEnv {
  @Transform(commaList)
  @Matches(HOST_PORT, { each: true, message: 'KAFKA_BROKERS must be a comma-separated list of host:port' })
  KAFKA_BROKERS: string[] = ['127.0.0.1:9092'];

  @IsString()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must start with redis:// or rediss://' })
  REDIS_URL: string = 'redis://127.0.0.1:6379/0';

  @IsOptional()
  @IsString()
  REDIS_CLUSTER_NODES?: string;

  @IsString()
  @IsNotEmpty()
  ROUTES_CONFIG: string = 'config/routes.yaml';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  @IsIn(['development', 'test', 'production'])
  NODE_ENV: string = 'development';

  @IsInt()
  @Min(0)
  @Max(600000)
  SHUTDOWN_TIMEOUT_MS: number = 10000;
}

export const portField = () => [IsInt(), Min(1), Max(65535)];
