import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsString, IsUrl, Matches, Max, Min, ValidateIf } from 'class-validator';
import { namespaced } from '@keygate/contracts';
import { CommonEnv } from '@keygate/platform';

export class KeyServiceEnv extends CommonEnv {
  @Matches(/^postgres(ql)?:\/\//, { message: 'KEYS_DATABASE_URL must be a postgres:// URL' })
  KEYS_DATABASE_URL: string = 'postgres://postgres@127.0.0.1:5432/keygate_keys';

  @IsInt() @Min(1) @Max(65535) KEY_SERVICE_HTTP_PORT: number = 3001;
  @IsInt() @Min(1) @Max(65535) KEY_SERVICE_GRPC_PORT: number = 50051;

  // The bootstrap admin credential; compared by hash, never logged.
  @IsString()
  @IsNotEmpty({ message: 'ADMIN_TOKEN must be set (npm run up generates one into .stack/admin-token)' })
  ADMIN_TOKEN!: string;

  // 32 bytes, base64: wraps the per-credential data keys of provider credentials. Unset or empty (as
  // `KEYGATE_MASTER_KEY=` in a compose file leaves it): the service runs, adding a credential answers 503.
  @ValidateIf((env: KeyServiceEnv) => !!env.KEYGATE_MASTER_KEY)
  @Matches(/^[A-Za-z0-9+/]{43}=$/, { message: 'KEYGATE_MASTER_KEY must be 32 bytes in base64' })
  KEYGATE_MASTER_KEY?: string;

  @IsInt() @Min(10) @Max(60000) OUTBOX_POLL_MS: number = 250;

  // The gateways' projection consumer group(s): a revocation, rotation, suspension or deletion answers once they
  // have applied it, waiting at most PROJECTION_FENCE_MS (0: answer at once).
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.split(',').filter(Boolean) : value,
  )
  @IsString({ each: true })
  GATEWAY_PROJECTION_GROUP: string[] = [namespaced('gateway-projection')];
  @IsInt() @Min(0) @Max(60000) PROJECTION_FENCE_MS: number = 5000;

  // Consumer group folding usage.requests into each key's lastUsedAt.
  @IsString() @IsNotEmpty() KEY_SERVICE_LAST_USED_GROUP: string = namespaced('key-service-last-used');

  // What the console (and a downloaded .pak file) calls: the gateway's public /v1 URL, the usage-service's URL.
  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'] },
    { message: 'PUBLIC_GATEWAY_URL must be an http(s) URL' },
  )
  PUBLIC_GATEWAY_URL: string = 'http://127.0.0.1:8080/v1';
  @IsUrl(
    { require_tld: false, protocols: ['http', 'https'] },
    { message: 'PUBLIC_USAGE_SERVICE_URL must be an http(s) URL' },
  )
  PUBLIC_USAGE_SERVICE_URL: string = 'http://127.0.0.1:3002';

  // GitHub's secret scanning public keys (their public_keys JSON): a file path or an http(s) URL. Unset: the partner
  // endpoint answers 503. ACTION: revoke what GitHub found (default) or only report it.
  @IsString() GITHUB_SECRET_SCANNING_KEYS: string = '';
  @IsIn(['revoke', 'alert'], { message: 'GITHUB_SECRET_SCANNING_ACTION must be revoke or alert' })
  GITHUB_SECRET_SCANNING_ACTION: 'revoke' | 'alert' = 'revoke';

  // The built console (vite output); unset: dist/console beside the built services.
  @IsString() CONSOLE_DIR: string = '';
}
