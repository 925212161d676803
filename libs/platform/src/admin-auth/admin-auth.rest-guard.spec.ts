import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Controller, Delete, Get, type INestApplication } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { CodedError } from '../errors/coded-error';
import { codedErrorMapper, serviceErrorOf } from '../errors/service-errors';
import { ManagementErrorFilter } from '../http/management-error.filter';
import { requestIdOf } from '../logging/logging.module';
import type { Caller } from './actor';
import { AdminRestGuard, CurrentCaller, Public } from './admin-auth.rest-guard';
import { AdminAuthenticator } from './admin-authenticator';
import { BOOTSTRAP_TOKEN, FakeAdminTokens } from './admin-tokens.fixtures';

type SpecCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'THING_NOT_FOUND';
class SpecError extends CodedError<SpecCode> {}
const status = (code: SpecCode): number =>
  ({ UNAUTHENTICATED: 401, FORBIDDEN: 403, THING_NOT_FOUND: 404 })[code];

@Controller('v1/things')
class ThingsController {
  @Get()
  list(@CurrentCaller() caller: Caller) {
    return { caller };
  }

  @Delete()
  remove(@CurrentCaller() caller: Caller) {
    return { removed: true, by: caller.actor.id };
  }

  @Public()
  @Get('public')
  open() {
    return { open: true };
  }
}

@Controller('health')
class HealthController {
  @Get('live')
  live() {
    return { status: 'ok' };
  }
}

// The REST adapter in a real Nest + Fastify app, answered by the management error filter: what a client sees.
describe('AdminRestGuard', () => {
  let app: NestFastifyApplication;
  const tokens = new FakeAdminTokens();
  tokens.issue('kgadm_admin', { id: 'adm_1', role: 'admin' });
  tokens.issue('kgadm_auditor', { id: 'adm_2', role: 'auditor' });
  tokens.issue('kgadm_revoked', { id: 'adm_3', role: 'admin' });
  tokens.revoke('kgadm_revoked');

  beforeAll(async () => {
    const module = await Test.createTestingModule({
      controllers: [ThingsController, HealthController],
      providers: [
        { provide: AdminAuthenticator, useValue: new AdminAuthenticator(BOOTSTRAP_TOKEN, tokens.lookup) },
        { provide: APP_GUARD, useClass: AdminRestGuard },
        {
          provide: APP_FILTER,
          useValue: new ManagementErrorFilter(codedErrorMapper(serviceErrorOf(SpecError), status)),
        },
      ],
    }).compile();
    // Request ids as the services make them (createHttpApp).
    const genReqId = (req: IncomingMessage | Http2ServerRequest) => requestIdOf(req as IncomingMessage);
    app = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ genReqId }), {
      logger: false,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => (app as INestApplication | undefined)?.close());

  const call = async (method: 'GET' | 'DELETE', url: string, authorization?: string) => {
    const res = await app.inject({ method, url, headers: authorization ? { authorization } : {} });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  };

  it.each([
    ['missing', undefined, 'an admin token is required: Authorization: Bearer <token>'],
    ['malformed', 'Basic a2dhZG1fYWRtaW4=', 'an admin token is required: Authorization: Bearer <token>'],
    ['unknown', 'Bearer kgadm_nobody', 'the admin token is invalid or revoked'],
    ['revoked', 'Bearer kgadm_revoked', 'the admin token is invalid or revoked'],
  ])('answers a %s token with 401 UNAUTHENTICATED in the management shape', async (_, header, message) => {
    expect(await call('GET', '/v1/things', header)).toEqual({
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message, requestId: expect.stringMatching(/^req_/) } },
    });
  });

  it('lets an auditor read but not write (403 FORBIDDEN)', async () => {
    expect((await call('GET', '/v1/things', 'Bearer kgadm_auditor')).status).toBe(200);
    expect(await call('DELETE', '/v1/things', 'Bearer kgadm_auditor')).toMatchObject({
      status: 403,
      body: { error: { code: 'FORBIDDEN', message: 'auditor tokens may only read' } },
    });
  });

  it('hands the handler the caller: the actor and the request id', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/v1/things',
      headers: { authorization: 'Bearer kgadm_admin', 'x-request-id': 'trace-me.1' },
    });
    expect(res.json()).toEqual({
      caller: { actor: { id: 'adm_1', role: 'admin' }, requestId: 'trace-me.1' },
    });
    expect((await call('DELETE', '/v1/things', `Bearer ${BOOTSTRAP_TOKEN}`)).body).toEqual({
      removed: true,
      by: 'bootstrap',
    });
  });

  it('leaves probes and @Public() routes open', async () => {
    expect(await call('GET', '/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await call('GET', '/v1/things/public')).toEqual({ status: 200, body: { open: true } });
  });
});
