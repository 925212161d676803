import {
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

// RequestCompleted on usage.requests: one per gateway request, rejected-at-auth ones included.
export const REQUEST_COMPLETED = 'RequestCompleted' as const;
export const USAGE_EVENTS_SCHEMA_VERSION = 1;

export type RequestOutcome = 'success' | 'upstream_error' | 'rejected';

export class RequestCompletedData {
  @IsString() @MaxLength(64) requestId!: string;
  // Null when the request never got as far as a known key (malformed or unknown key).
  @IsOptional() @IsString() @MaxLength(64) keyId!: string | null;
  @IsOptional() @IsString() @MaxLength(128) route!: string | null;
  @IsOptional() @IsString() @MaxLength(128) provider!: string | null;
  @IsOptional() @IsString() @MaxLength(128) upstreamModel!: string | null;
  @IsString() @MaxLength(64) endpoint!: string;
  @IsInt() @Min(0) @Max(999) status!: number;
  @IsIn(['success', 'upstream_error', 'rejected']) outcome!: RequestOutcome;
  @IsOptional() @IsString() @MaxLength(64) errorCode!: string | null;
  @IsInt() @Min(0) promptTokens!: number;
  @IsInt() @Min(0) completionTokens!: number;
  @IsBoolean() streamed!: boolean;
  @IsInt() @Min(0) latencyMs!: number;
  @IsOptional() @IsString() @MaxLength(64) clientIp!: string | null;
  @IsISO8601() time!: string;
}
