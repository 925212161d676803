import { createHash, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AdminRole } from '@keygate/contracts';
import { DomainError } from '../domain-errors';

export interface Actor {
  id: string; // admin token id, or "bootstrap" for ADMIN_TOKEN
  role: AdminRole;
}

export const PUBLIC_ROUTE = 'keygate:public';
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

// Resolves a bearer credential to an actor: the bootstrap ADMIN_TOKEN, or an issued, unrevoked admin token.
// Shared by REST and gRPC so both transports apply the same rules.
@Injectable()
export class AdminAuthenticator {
  private readonly bootstrapHash: Buffer;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    bootstrapToken: string,
  ) {
    this.bootstrapHash = sha256(bootstrapToken);
  }

  async authenticate(authorization: string | undefined): Promise<Actor> {
    const token = /^Bearer\s+(\S{1,512})$/i.exec(authorization ?? '')?.[1];
    if (!token)
      throw new DomainError('UNAUTHENTICATED', 'an admin token is required: Authorization: Bearer <token>');
    const hash = sha256(token);
    if (timingSafeEqual(hash, this.bootstrapHash)) return { id: 'bootstrap', role: 'admin' };
    const rows: { id: string; role: AdminRole }[] = await this.db.query(
      `SELECT id, role FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL`,
      [hash.toString('hex')],
    );
    if (rows.length === 0) throw new DomainError('UNAUTHENTICATED', 'the admin token is invalid or revoked');
    return { id: rows[0].id, role: rows[0].role };
  }

  authorize(actor: Actor, write: boolean): void {
    if (write && actor.role !== 'admin') throw new DomainError('FORBIDDEN', 'auditor tokens may only read');
  }
}

@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AdminAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string>; method: string; url: string; actor?: Actor }>();
    // Probes and scrapers carry no admin token: health, metrics and the OpenAPI page are public.
    if (/^\/(health|metrics|docs)(\/|\?|$)/.test(request.url)) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const actor = await this.auth.authenticate(request.headers.authorization);
    this.auth.authorize(actor, request.method !== 'GET' && request.method !== 'HEAD');
    request.actor = actor;
    return true;
  }
}
