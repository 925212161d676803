import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiKey } from '@keygate/contracts';
import type { LeakReportResultDto } from '../../apps/key-service/src/leak-reports/leak-report.dto';
import {
  api,
  chat,
  createKey,
  eventually,
  freeTestPort,
  startService,
  testStack,
  waitForGateway,
  type RunningService,
} from '@keygate/testing';

type LeakReport = LeakReportResultDto;

// Leaked keys revoke themselves: an admin's report or GitHub's secret scanning reaches every gateway at once, and
// nothing tells a reporter anything about strings that are not ours.
describe('leak reports', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  const github = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const impostor = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyIdentifier = randomBytes(32).toString('hex');
  const reported: string[] = [];
  let secondGateway: RunningService;
  let scanningService: RunningService;
  let gateways: string[];
  let scanningUrl: string;

  beforeAll(async () => {
    const [gatewayPort, httpPort, grpcPort] = await Promise.all([
      freeTestPort(),
      freeTestPort(),
      freeTestPort(),
    ]);
    const keysFile = join(stack.logDir, `github-keys-${keyIdentifier.slice(0, 8)}.json`);
    writeFileSync(
      keysFile,
      JSON.stringify({
        public_keys: [
          {
            key_identifier: keyIdentifier,
            key: github.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            is_current: true,
          },
        ],
      }),
    );
    // A second gateway of the same deployment, and a key-service instance that knows GitHub's (test) keys.
    [secondGateway, scanningService] = await Promise.all([
      startService(
        stack,
        'gateway',
        { GATEWAY_PORT: String(gatewayPort) },
        `http://127.0.0.1:${gatewayPort}/health/ready`,
      ),
      startService(
        stack,
        'key-service',
        {
          KEY_SERVICE_HTTP_PORT: String(httpPort),
          KEY_SERVICE_GRPC_PORT: String(grpcPort),
          GITHUB_SECRET_SCANNING_KEYS: keysFile,
        },
        `http://127.0.0.1:${httpPort}/health/ready`,
      ),
    ]);
    gateways = [stack.gatewayUrl, `http://127.0.0.1:${gatewayPort}`];
    scanningUrl = `http://127.0.0.1:${httpPort}/v1/secret-scanning/github`;
  });

  afterAll(async () => {
    await Promise.all([secondGateway?.stop(), scanningService?.stop()]);
    // No reported string ever reached a log line of any service.
    const logs = readdirSync(stack.logDir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => readFileSync(join(stack.logDir, f), 'utf8'))
      .join('\n');
    for (const s of reported) expect(logs.includes(s)).toBe(false);
  });

  const newKey = async () => {
    const k = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    await Promise.all(gateways.map((g) => waitForGateway(g, k.key)));
    reported.push(k.key);
    return k;
  };
  const statuses = (keys: string[]) =>
    Promise.all(gateways.map((g) => Promise.all(keys.map((k) => chat(g, k, body).then((r) => r.status)))));
  const stateOf = async (id: string) => (await admin<{ state: string }>('GET', `/v1/keys/${id}`)).body.state;

  it('3 of ours (one already revoked) and 2 foreign strings: 2 revoked, 401 on both gateways within 1 s', async () => {
    const [a, b, c] = await Promise.all([newKey(), newKey(), newKey()]);
    expect((await admin('POST', `/v1/keys/${c.id}/revoke`, { reason: 'old' })).status).toBe(200);
    const foreign = [generateApiKey('live'), 'sk-proj-abc123def456ghi789'];
    reported.push(foreign[0]);

    const res = await admin<LeakReport>('POST', '/v1/keys/leaked', {
      keys: [a.key, foreign[0], b.key, c.key, foreign[1]],
      source: 'pastebin.example/xyz, found by the on-call',
    });
    const answered = Date.now();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ revoked: 2, alreadyRevoked: 1, leftActive: 0, unknown: 2 });
    expect(res.body.results).toEqual([
      { index: 0, outcome: 'revoked', keyId: a.id, maskedKey: `kg_live_…${a.key.slice(-4)}` },
      { index: 1, outcome: 'unknown' },
      { index: 2, outcome: 'revoked', keyId: b.id, maskedKey: `kg_live_…${b.key.slice(-4)}` },
      { index: 3, outcome: 'already_revoked', keyId: c.id, maskedKey: `kg_live_…${c.key.slice(-4)}` },
      { index: 4, outcome: 'unknown' },
    ]);
    const text = JSON.stringify(res.body);
    for (const s of [a.key, b.key, c.key, ...foreign]) expect(text).not.toContain(s);

    await eventually(
      () => statuses([a.key, b.key]),
      (all) => all.every((row) => row.join() === '401,401'),
      { timeoutMs: 1000, intervalMs: 20 },
    );
    expect(Date.now() - answered).toBeLessThan(1000);

    // The history shows the report: reason, source, who.
    const audit = await admin<{ data: { type: string; actor: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/v1/audit?aggregateId=${a.id}&type=KeyRevoked`,
    );
    expect(audit.body.data).toEqual([
      expect.objectContaining({
        type: 'KeyRevoked',
        actor: 'bootstrap',
        data: expect.objectContaining({
          reason: 'leaked',
          source: 'pastebin.example/xyz, found by the on-call',
        }),
      }),
    ]);
    const cAudit = await admin<{ data: unknown[] }>('GET', `/v1/audit?aggregateId=${c.id}&type=KeyRevoked`);
    expect(cAudit.body.data).toHaveLength(1);
  });

  it('bad reports answer a coded 400 and change nothing', async () => {
    const k = await newKey();
    for (const bad of [
      { keys: k.key, source: 'x' },
      { keys: [], source: 'x' },
      { keys: [k.key] },
      { keys: [k.key], source: '' },
      { keys: [k.key, 42], source: 'x' },
      { keys: [k.key], source: 'x', extra: true },
    ]) {
      const res = await admin<{ error: { code: string; message: string } }>('POST', '/v1/keys/leaked', bad);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.body)).not.toContain(k.key);
    }
    const auditor = await admin<{ token: string }>('POST', '/v1/admin-tokens', {
      name: `leak-auditor-${randomBytes(3).toString('hex')}`,
      role: 'auditor',
    });
    const asAuditor = await api(stack.keyServiceUrl, auditor.body.token)('POST', '/v1/keys/leaked', {
      keys: [k.key],
      source: 'x',
    });
    expect(asAuditor.status).toBe(403);
    expect(await stateOf(k.id)).toBe('active');
    expect((await statuses([k.key])).map((r) => r[0])).toEqual([200, 200]);
  });

  const post = (payload: string, signer = github.privateKey, identifier = keyIdentifier) =>
    fetch(scanningUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'github-public-key-identifier': identifier,
        'github-public-key-signature': sign('sha256', Buffer.from(payload), signer).toString('base64'),
      },
      body: payload,
    });

  it('GitHub secret scanning: a signed report revokes ours and answers in GitHub’s format', async () => {
    const k = await newKey();
    const foreign = generateApiKey('test');
    reported.push(foreign);
    const payload = JSON.stringify([
      {
        token: k.key,
        type: 'keygate_api_key',
        url: 'https://github.com/octo/app/blob/abc/config.js',
        source: 'content',
      },
      { token: foreign, type: 'keygate_api_key', url: 'https://github.com/octo/app/blob/abc/x.js' },
    ]);
    const res = await post(payload);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { token_raw: k.key, token_type: 'keygate_api_key', label: 'true_positive' },
      { token_raw: foreign, token_type: 'keygate_api_key', label: 'false_positive' },
    ]);
    expect(await stateOf(k.id)).toBe('revoked');
    await eventually(
      () => statuses([k.key]),
      (all) => all.every((row) => row[0] === 401),
      { timeoutMs: 1000, intervalMs: 20 },
    );
    const audit = await admin<{ data: { actor: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/v1/audit?aggregateId=${k.id}&type=KeyRevoked`,
    );
    expect(audit.body.data[0]).toMatchObject({
      actor: 'github-secret-scanning',
      data: {
        reason: 'leaked',
        source: 'GitHub secret scanning: https://github.com/octo/app/blob/abc/config.js (content)',
      },
    });
  });

  it('GitHub secret scanning: a bad or missing signature is 401 and revokes nothing', async () => {
    const k = await newKey();
    const payload = JSON.stringify([
      { token: k.key, type: 'keygate_api_key', url: 'https://github.com/o/r' },
    ]);
    const attempts = [
      await post(payload, impostor.privateKey),
      await post(payload, github.privateKey, 'unknown-identifier'),
      // Signed, then changed on the way.
      await fetch(scanningUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'github-public-key-identifier': keyIdentifier,
          'github-public-key-signature': sign('sha256', Buffer.from('[]'), github.privateKey).toString(
            'base64',
          ),
        },
        body: payload,
      }),
      await fetch(scanningUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
      }),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(401);
      const text = await res.text();
      expect(JSON.parse(text).error.code).toBe('UNAUTHENTICATED');
      expect(text).not.toContain(k.key);
    }
    expect(await stateOf(k.id)).toBe('active');
    expect((await statuses([k.key])).map((r) => r[0])).toEqual([200, 200]);
  });

  it('GitHub secret scanning without configured keys answers 503, never accepting unsigned reports', async () => {
    const res = await fetch(`${stack.keyServiceUrl}/v1/secret-scanning/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'SECRET_SCANNING_NOT_CONFIGURED',
    );
  });
});
