import { createHash, timingSafeEqual } from 'node:crypto';
import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AdminRole } from '@keygate/contracts';

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

export interface Actor {
  id: string; // admin token id, or "bootstrap" for ADMIN_TOKEN
  role: AdminRole;
}

interface GuardedRequest {
  url: string;
  method: string;
  headers: Record<string, string | undefined>;
  actor?: Actor;
}

// The usage API accepts the bootstrap ADMIN_TOKEN and every admin/auditor token issued by key-service and not
// revoked, learned from AdminTokenIssued/AdminTokenRevoked on keys.events (only hashes are kept). Auditor tokens
// may only read, as in key-service.
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly bootstrap: Buffer;

  constructor(
    private readonly db: DataSource,
    bootstrapToken: string,
  ) {
    this.bootstrap = sha256(bootstrapToken);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<GuardedRequest>();
    if (/^\/(health|metrics|docs)(\/|\?|$)/.test(req.url)) return true;
    const token = /^Bearer\s+(\S{1,512})$/i.exec(req.headers.authorization ?? '')?.[1];
    const actor = token ? await this.authenticate(token) : null;
    if (!actor)
      throw new UnauthorizedException({
        code: 'UNAUTHENTICATED',
        message: 'an admin token is required: Authorization: Bearer <token>',
      });
    if (req.method !== 'GET' && req.method !== 'HEAD' && actor.role !== 'admin')
      throw new ForbiddenException({ code: 'FORBIDDEN', message: 'auditor tokens may only read' });
    req.actor = actor;
    return true;
  }

  private async authenticate(token: string): Promise<Actor | null> {
    const hash = sha256(token);
    if (timingSafeEqual(hash, this.bootstrap)) return { id: 'bootstrap', role: 'admin' };
    // Looked up by hash: no secret is compared byte by byte.
    const rows: { token_id: string; role: AdminRole }[] = await this.db.query(
      `SELECT token_id, role FROM admin_tokens WHERE hash = $1 AND revoked_at IS NULL`,
      [hash.toString('hex')],
    );
    return rows[0] ? { id: rows[0].token_id, role: rows[0].role } : null;
  }
}

export const CurrentActor = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Actor =>
    ctx.switchToHttp().getRequest<GuardedRequest>().actor ?? { id: 'unknown', role: 'auditor' },
);
