import { randomBytes } from 'node:crypto';
import { api, freeTestPort, startService, testStack, type RunningService } from '@keygate/testing';
import { errorCode, GrpcStatus, keyServiceGrpc } from './support/key-service-grpc.client';
import { startUsageInstance, type UsageInstance } from './support/usage-instance';

// Admins cannot aim keygate at its own network (issue 14): webhook and provider credential URLs that resolve to
// loopback, private, unique-local or link-local addresses are refused when they are created, with a code, and
// nothing is stored. No test here triggers a delivery or a provider test: every refusal is at creation.
const PRIVATE = [
  'http://127.0.0.1:9/v1',
  'http://[::1]/v1',
  'http://10.0.0.1/v1',
  'http://172.16.0.1/v1',
  'http://192.168.1.1/v1',
  'http://[fc00::1]/v1',
  'http://localhost:9/v1', // a hostname resolving to 127.0.0.1
  'http://2130706433/v1', // 127.0.0.1 in decimal
  'http://0x7f000001/v1', // in hex
  'http://0177.0.0.1/v1', // in octal
];
const LINK_LOCAL_AND_UNSPECIFIED = [
  'http://169.254.169.254/latest/meta-data',
  'http://[::ffff:169.254.169.254]/',
  'http://[fe80::1]/',
  'http://0.0.0.0/v1',
];

describe('outbound addresses', () => {
  const stack = testStack();
  const run = randomBytes(4).toString('hex');
  const secret = () => `sk-${randomBytes(12).toString('hex')}`;

  // The stack runs with ALLOW_PRIVATE_UPSTREAMS=true (its mock provider is on loopback): link-local still fails.
  describe('with private upstreams allowed', () => {
    const admin = api(stack.keyServiceUrl, stack.adminToken);
    const usage = api(stack.usageServiceUrl, stack.adminToken);

    it.each(LINK_LOCAL_AND_UNSPECIFIED)('refuses %s for a provider and a webhook', async (url) => {
      const provider = await admin<any>('POST', '/v1/providers', {
        name: `ll-${run}-${randomBytes(3).toString('hex')}`,
        type: 'openai',
        secret: secret(),
        settings: { baseUrl: url },
      });
      expect([provider.status, provider.body.error?.code]).toEqual([422, 'ADDRESS_NOT_ALLOWED']);
      expect(provider.body.error.field).toBe('settings.baseUrl');
      const hook = await usage<any>('POST', '/v1/webhooks', { url, secret: secret() + secret() });
      expect([hook.status, hook.body.error?.code]).toEqual([422, 'ADDRESS_NOT_ALLOWED']);
      expect(hook.body.error.message).toMatch(/link-local|unspecified/);
    });

    it('refuses a rotate that moves a credential to a link-local address', async () => {
      const created = await admin<any>('POST', '/v1/providers', {
        name: `mv-${run}`,
        type: 'azure',
        secret: secret(),
        settings: { endpoint: stack.mockUrl },
      });
      expect(created.status).toBe(201);
      const moved = await admin<any>('POST', `/v1/providers/${created.body.id}/rotate`, {
        secret: secret(),
        settings: { endpoint: 'http://169.254.169.254' },
      });
      expect([moved.status, moved.body.error?.code]).toEqual([422, 'ADDRESS_NOT_ALLOWED']);
      const now = await admin<any>('GET', '/v1/providers?limit=200');
      const stored = now.body.data.find((p: { id: string }) => p.id === created.body.id);
      expect(stored).toMatchObject({ version: 1, settings: { endpoint: stack.mockUrl } });
    });
  });

  // A key-service and a usage-service of their own, started as `npm run up` starts them but with the default
  // ALLOW_PRIVATE_UPSTREAMS=false.
  describe('by default', () => {
    let keys: RunningService;
    let usage: UsageInstance;
    let keysUrl = '';
    let grpcUrl = '';
    beforeAll(async () => {
      const [http, grpcPort] = [await freeTestPort(), await freeTestPort()];
      keysUrl = `http://127.0.0.1:${http}`;
      grpcUrl = `127.0.0.1:${grpcPort}`;
      [keys, usage] = await Promise.all([
        startService(
          stack,
          'key-service',
          {
            ALLOW_PRIVATE_UPSTREAMS: 'false',
            KEY_SERVICE_HTTP_PORT: String(http),
            KEY_SERVICE_GRPC_PORT: String(grpcPort),
          },
          `${keysUrl}/health/ready`,
        ),
        startUsageInstance(stack, { ALLOW_PRIVATE_UPSTREAMS: 'false' }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([keys?.stop(), usage?.stop()]);
    });

    it.each([...PRIVATE, ...LINK_LOCAL_AND_UNSPECIFIED])(
      'refuses %s at creation, over REST and gRPC, and stores nothing',
      async (url) => {
        const admin = api(keysUrl, stack.adminToken);
        const name = `strict-${run}-${randomBytes(3).toString('hex')}`;
        const provider = await admin<any>('POST', '/v1/providers', {
          name,
          type: 'gemini',
          secret: secret(),
          settings: { baseUrl: url },
        });
        expect({ url, status: provider.status, code: provider.body.error?.code }).toEqual({
          url,
          status: 422,
          code: 'ADDRESS_NOT_ALLOWED',
        });
        const grpc = keyServiceGrpc(grpcUrl, stack.adminToken);
        try {
          const err = await grpc.error('AddProvider', {
            name,
            type: 'openai',
            secret: secret(),
            settings: { baseUrl: url },
          });
          expect([err.code, errorCode(err)]).toEqual([GrpcStatus.INVALID_ARGUMENT, 'ADDRESS_NOT_ALLOWED']);
        } finally {
          grpc.close();
        }
        const listed = await admin<any>('GET', '/v1/providers?limit=200');
        expect(listed.body.data.map((p: { name: string }) => p.name)).not.toContain(name);

        const hooks = api(usage.url, stack.adminToken);
        const hook = await hooks<any>('POST', '/v1/webhooks', { url, secret: secret() + secret() });
        // The webhook DTO's URL validator already refuses the decimal and octal forms as malformed.
        const malformed = /\/\/(0177|2130706433)/.test(url);
        expect({ url, status: hook.status, code: hook.body.error?.code }).toEqual({
          url,
          status: malformed ? 400 : 422,
          code: malformed ? 'VALIDATION_FAILED' : 'ADDRESS_NOT_ALLOWED',
        });
        expect((await hooks<any>('GET', '/v1/webhooks')).body.data).toEqual([]);
      },
    );
  });
});
