import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  UnprocessableEntityException,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  IsUrl,
  MaxLength,
  MinLength,
} from 'class-validator';
import type { DataSource } from 'typeorm';
import { ALERT_TYPES, newId, type AlertType } from '@keygate/contracts';
import { OutboundAddressError, OutboundPolicy } from '@keygate/platform';
import { CurrentActor, type Actor } from '../admin-auth/admin-token.guard';
import { SecretBox } from './secret-box';
import { DeliveryPageDto, WebhookDto, WebhookPageDto } from './webhook.resource';

class CreateWebhookDto {
  // No credentials in the URL: they would be stored and listed in clear.
  @ApiProperty({ example: 'https://hooks.example.com/keygate' })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false, disallow_auth: true })
  @MaxLength(2048)
  url!: string;
  @ApiProperty({ description: 'HMAC secret, at least 16 characters; write-only' })
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  secret!: string;
  @ApiPropertyOptional({ enum: ALERT_TYPES, isArray: true, description: 'all alert types when absent' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALERT_TYPES.length)
  @IsIn(ALERT_TYPES, { each: true })
  types?: AlertType[];
  @ApiPropertyOptional({
    type: [String],
    description: 'only alerts about these owners’ keys; all when absent',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  ownerIds?: string[];
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) description?: string;
}

interface WebhookRow {
  id: string;
  url: string;
  types: AlertType[] | null;
  owner_ids: string[] | null;
  description: string;
  created_at: Date;
  created_by: string;
}

// The secret is sealed on the way in and never comes back out: not in a response, a log line or an error.
const present = (r: WebhookRow) => ({
  id: r.id,
  url: r.url,
  types: r.types,
  ownerIds: r.owner_ids,
  description: r.description,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
});

const notFound = (id: string) =>
  new NotFoundException({ code: 'WEBHOOK_NOT_FOUND', message: `webhook ${id.slice(0, 64)} not found` });

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly outbound: OutboundPolicy,
  ) {}

  // Refused here, before anything is stored or sent; the dispatcher's connections are checked again.
  private async checkUrl(url: string): Promise<void> {
    try {
      await this.outbound.check(url);
    } catch (e) {
      if (!(e instanceof OutboundAddressError)) throw e;
      const error = { code: e.code, message: `url ${e.message}` };
      throw e.code === 'INVALID_URL'
        ? new BadRequestException({ ...error, code: 'VALIDATION_FAILED' })
        : new UnprocessableEntityException(error);
    }
  }

  @Post()
  @ApiCreatedResponse({ type: WebhookDto })
  async create(@Body() dto: CreateWebhookDto, @CurrentActor() actor: Actor) {
    await this.checkUrl(dto.url);
    const [row]: WebhookRow[] = await this.db.query(
      `INSERT INTO webhooks (id, url, secret_ciphertext, types, description, created_by, owner_ids)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        newId('whk'),
        dto.url,
        this.box.seal(dto.secret),
        dto.types?.length ? [...new Set(dto.types)] : null,
        dto.description ?? '',
        actor.id,
        dto.ownerIds?.length ? [...new Set(dto.ownerIds)] : null,
      ],
    );
    return present(row);
  }

  @Get()
  @ApiOkResponse({ type: WebhookPageDto })
  async list() {
    const rows: WebhookRow[] = await this.db.query(
      `SELECT * FROM webhooks WHERE deleted_at IS NULL ORDER BY id COLLATE "C"`,
    );
    return { data: rows.map(present), nextCursor: null };
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    // Soft delete: the delivery log keeps pointing at it; pending deliveries are cancelled by the dispatcher.
    const rows: unknown[] = await this.db.query(
      // In a CTE: TypeORM answers a top-level UPDATE with [rows, count] instead of the rows.
      `WITH gone AS (UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id)
       SELECT id FROM gone`,
      [id],
    );
    if (rows.length === 0) throw notFound(id);
  }

  // The delivery log of one webhook: newest deliveries first, each with its attempts.
  @Get(':id/deliveries')
  @ApiOkResponse({ type: DeliveryPageDto })
  async deliveries(@Param('id') id: string) {
    const exists: unknown[] = await this.db.query(`SELECT 1 FROM webhooks WHERE id = $1`, [id]);
    if (exists.length === 0) throw notFound(id);
    const rows: {
      id: string;
      alert_id: string;
      status: string;
      attempts: number;
      next_attempt_at: Date;
      last_status_code: number | null;
      last_error: string | null;
      created_at: Date;
      delivered_at: Date | null;
      log: {
        attempt: number;
        startedAt: string;
        durationMs: number;
        statusCode: number | null;
        error: string | null;
      }[];
    }[] = await this.db.query(
      `SELECT d.*, coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'startedAt', a.started_at,
                'durationMs', a.duration_ms, 'statusCode', a.status_code, 'error', a.error) ORDER BY a.attempt)
              FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS log
       FROM webhook_deliveries d WHERE d.webhook_id = $1 ORDER BY d.created_at DESC LIMIT 200`,
      [id],
    );
    return {
      data: rows.map((r) => ({
        id: r.id,
        alertId: r.alert_id,
        status: r.status,
        attempts: r.log,
        nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
        lastStatusCode: r.last_status_code,
        lastError: r.last_error,
        createdAt: r.created_at.toISOString(),
        deliveredAt: r.delivered_at?.toISOString() ?? null,
      })),
      nextCursor: null,
    };
  }
}
