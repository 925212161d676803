import { request } from 'node:http';
import {
  api,
  chat,
  createKey,
  eventually,
  mockRequestCount,
  testStack,
  waitForGateway,
} from '@keygate/testing';

// The server answers 413 as soon as it knows the size and may close the socket while we are still uploading:
// like a browser, read the response if one arrived and ignore the reset of the upload.
const postIgnoringUploadReset = (url: string, key: string, payload: string) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
      },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    req.end(payload);
  });

// What a hostile or careless client can try at the gateway: each attempt gets its documented OpenAI-shaped
// error, and none of them reaches the upstream provider.
describe('gateway security', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };
  let routed: string;

  beforeAll(async () => {
    routed = (await createKey(stack, { routes: ['gpt-4o-mini'] })).key;
  });

  const expectNoUpstream = async (attempt: () => Promise<Response>, status: number, code: string) => {
    const before = await mockRequestCount(stack.mockUrl);
    const res = await attempt();
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(json.error.code).toBe(code);
    expect(JSON.stringify(json)).not.toMatch(/ at .*\.js:\d+|stack/i);
    expect(await mockRequestCount(stack.mockUrl)).toBe(before);
    return res;
  };

  it.each([
    ['no key', null],
    ['an empty bearer', ''],
    ['a key with a broken checksum', `${'kg_live_'}${'A'.repeat(49)}`],
    ['a well-formed key nobody issued', 'kg_live_00000000000000000000000000000000000000000000iucAc'],
    ['a key with a character outside base62', 'kg_live_0PBksNMhd2Iye83EuqP2GS-JuzUgyLBGQhZPNRsVFyd0i0lKh'],
    ['an OpenAI key', 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789'],
    ['a huge key', 'kg_live_'.padEnd(10_000, 'x')],
  ])('refuses %s with 401 invalid_api_key', async (_name, key) => {
    await expectNoUpstream(() => chat(stack.gatewayUrl, key, body), 401, 'invalid_api_key');
  });

  it('accepts the key in the api-key and x-goog-api-key headers too', async () => {
    for (const header of ['api-key', 'x-goog-api-key']) {
      const res = await chat(stack.gatewayUrl, null, body, { [header]: routed });
      expect(res.status).toBe(200);
    }
  });

  it('answers a route the key may not use exactly like a missing model (404 model_not_found)', async () => {
    await expectNoUpstream(
      () => chat(stack.gatewayUrl, routed, { ...body, model: 'gpt-4o' }),
      404,
      'model_not_found',
    );
    await expectNoUpstream(
      () => chat(stack.gatewayUrl, routed, { ...body, model: 'no-such-model' }),
      404,
      'model_not_found',
    );
    const models = await fetch(`${stack.gatewayUrl}/v1/models`, {
      headers: { authorization: `Bearer ${routed}` },
    });
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([
      'gpt-4o-mini',
    ]);
  });

  it.each([
    ['a path traversal model', '../../v1/admin'],
    ['a URL as model', 'http://169.254.169.254/latest/meta-data'],
    ['a host-smuggling model', 'gpt-4o-mini@evil.example.com'],
  ])('cannot steer the upstream request with %s', async (_name, model) => {
    await expectNoUpstream(() => chat(stack.gatewayUrl, routed, { ...body, model }), 404, 'model_not_found');
  });

  it('ignores body fields that try to redirect the upstream call', async () => {
    const res = await chat(stack.gatewayUrl, routed, {
      ...body,
      baseURL: 'http://127.0.0.2:9/steal',
      api_base: 'http://127.0.0.2:9/steal',
      url: 'http://127.0.0.2:9/steal',
    });
    expect(res.status).toBe(200);
    const recorded = (await (await fetch(`${stack.mockUrl}/__mock/requests`)).json()) as {
      data: { path: string; headers: Record<string, string> }[];
    };
    const last = recorded.data[recorded.data.length - 1];
    expect(last.path).toBe('/v1/chat/completions');
    // The client's key never travels upstream: the gateway sends the provider credential instead.
    expect(JSON.stringify(last.headers)).not.toContain(routed);
  });

  it.each([
    ['malformed JSON', '{"model": "gpt-4o-mini", ', 400, 'invalid_json'],
    ['a JSON array', '[1,2,3]', 400, 'invalid_request_body'],
    ['a model of the wrong type', JSON.stringify({ model: 42, messages: [] }), 400, 'invalid_model'],
  ])('rejects %s', async (_name, raw, status, code) => {
    await expectNoUpstream(
      () => chat(stack.gatewayUrl, routed, raw as string),
      status as number,
      code as string,
    );
  });

  it('rejects a body over the limit with 413 before reading it all', async () => {
    const before = await mockRequestCount(stack.mockUrl);
    const { status, text } = await postIgnoringUploadReset(
      `${stack.gatewayUrl}/v1/chat/completions`,
      routed,
      JSON.stringify({ ...body, padding: 'x'.repeat(5 * 1024 * 1024) }),
    );
    expect(status).toBe(413);
    expect(JSON.parse(text).error.code).toBe('request_too_large');
    expect(await mockRequestCount(stack.mockUrl)).toBe(before);
  });

  it('ignores a spoofed X-Forwarded-For from an untrusted peer (IP allow list)', async () => {
    const { key } = await createKey(stack, { routes: ['gpt-4o-mini'], key: { ipAllow: ['10.1.2.0/24'] } });
    await expectNoUpstream(
      () => chat(stack.gatewayUrl, key, body, { 'x-forwarded-for': '10.1.2.3' }),
      403,
      'ip_not_allowed',
    );
  });

  it('applies IPv4 and IPv6 CIDRs to the real peer address, deny winning over allow', async () => {
    const v6only = await createKey(stack, { routes: ['gpt-4o-mini'], key: { ipAllow: ['::1/128'] } });
    const port = new URL(stack.gatewayUrl).port;
    expect((await chat(`http://[::1]:${port}`, v6only.key, body)).status).toBe(200);
    await expectNoUpstream(() => chat(`http://127.0.0.1:${port}`, v6only.key, body), 403, 'ip_not_allowed');

    const denied = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { ipAllow: ['127.0.0.0/8'], ipDeny: ['127.0.0.1/32'] },
    });
    await expectNoUpstream(() => chat(`http://127.0.0.1:${port}`, denied.key, body), 403, 'ip_not_allowed');
    const allowed = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { ipAllow: ['127.0.0.0/8'], ipDeny: ['127.0.0.2/32', '2001:db8::/32'] },
    });
    expect((await chat(`http://127.0.0.1:${port}`, allowed.key, body)).status).toBe(200);
  });

  it('refuses an expired key with 401 key_expired', async () => {
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { expiresAt: new Date(Date.now() + 1500).toISOString() },
    });
    await new Promise((r) => setTimeout(r, 1600));
    await expectNoUpstream(() => chat(stack.gatewayUrl, key, body), 401, 'key_expired');
  });

  it('keeps an old secret working through its grace period after rotation, then refuses it', async () => {
    const { id, key: old } = await createKey(stack, { routes: ['gpt-4o-mini'] });
    const rotated = await admin<{ key: string }>('POST', `/v1/keys/${id}/rotate`, { gracePeriodSeconds: 2 });
    expect(rotated.status).toBe(201);
    await waitForGateway(stack.gatewayUrl, rotated.body.key);
    expect((await chat(stack.gatewayUrl, old, body)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    await expectNoUpstream(() => chat(stack.gatewayUrl, old, body), 401, 'invalid_api_key');
    expect((await chat(stack.gatewayUrl, rotated.body.key, body)).status).toBe(200);
  });

  it('refuses a suspended key with 403 key_suspended and a deleted key with 401', async () => {
    const { id, key } = await createKey(stack, { routes: ['gpt-4o-mini'] });
    expect((await admin('POST', `/v1/keys/${id}/suspend`, { reason: 'budget exceeded' })).status).toBe(200);
    await eventually(
      () => chat(stack.gatewayUrl, key, body).then((r) => r.status),
      (s) => s === 403,
    );
    await expectNoUpstream(() => chat(stack.gatewayUrl, key, body), 403, 'key_suspended');
    expect((await admin('DELETE', `/v1/keys/${id}`)).status).toBe(204);
    await eventually(
      () => chat(stack.gatewayUrl, key, body).then((r) => r.status),
      (s) => s === 401,
    );
  });
});
