import {
  type CanActivate,
  createParamDecorator,
  type ExecutionContext,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Actor, Caller } from './actor';
import { AdminAuthError, AdminAuthenticator } from './admin-authenticator';

const PUBLIC_ROUTE = 'keygate:public';
// A route that answers without an admin token (a signed webhook from a partner, say).
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

// Probes and scrapers carry no admin token: health, metrics and the OpenAPI page are public.
const PUBLIC_PATH = /^\/(health|metrics|docs)(\/|\?|$)/;

interface GuardedRequest {
  id: unknown;
  url: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  actor?: Actor;
}

// The REST adapter: every management route needs an admin token; auditors may only GET (and HEAD).
@Injectable()
export class AdminRestGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AdminAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    if (PUBLIC_PATH.test(request.url)) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const actor = await this.auth.authenticate(request.headers.authorization);
    this.auth.authorize(actor, request.method !== 'GET' && request.method !== 'HEAD');
    request.actor = actor;
    return true;
  }
}

// The caller of a request the guard let through (the request id is the one Fastify gave it: requestIdFrom).
export const restCaller = (request: object): Caller => {
  const { actor, id } = request as GuardedRequest;
  if (!actor)
    throw new AdminAuthError('UNAUTHENTICATED', 'an admin token is required: Authorization: Bearer <token>');
  return { actor, requestId: String(id) };
};

export const CurrentCaller = createParamDecorator((_: unknown, ctx: ExecutionContext): Caller =>
  restCaller(ctx.switchToHttp().getRequest<object>()),
);
