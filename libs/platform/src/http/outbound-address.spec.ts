import { createServer, type Server, type Socket } from 'node:net';
import { Pool, request } from 'undici';
import { addressRefusal, OutboundAddressError, outboundFailure, OutboundPolicy } from './outbound-address';

// The URL forms issue 14 names. Every check here is answered before a connection: nothing is sent anywhere.
const REFUSED_UNLESS_PRIVATE = [
  'http://127.0.0.1/',
  'http://[::1]:8080/',
  'http://10.1.2.3/',
  'http://172.16.0.1/',
  'http://172.31.255.255/',
  'http://192.168.1.1/',
  'http://[fc00::1]/',
  'http://[fd12:3456::1]/',
  'http://localhost:9/', // a hostname resolving to 127.0.0.1
  'http://2130706433/', // 127.0.0.1 in decimal
  'http://0x7f000001/', // in hex
  'http://0177.0.0.1/', // in octal
  'http://[::ffff:127.0.0.1]/',
];
const ALWAYS_REFUSED = [
  'http://169.254.169.254/latest/meta-data',
  'http://[::ffff:169.254.169.254]/',
  'http://[fe80::1]/',
  'http://0.0.0.0/',
  'http://2852039166/', // 169.254.169.254 in decimal
  'http://224.0.0.1/',
  'http://255.255.255.255/',
];

const refusal = async (policy: OutboundPolicy, url: string): Promise<string | null> =>
  policy.check(url).then(
    () => null,
    (e: unknown) => (e instanceof OutboundAddressError ? e.code : `unexpected ${String(e)}`),
  );

describe('outbound address policy', () => {
  const strict = new OutboundPolicy({ allowPrivate: false });
  const relaxed = new OutboundPolicy({ allowPrivate: true });
  afterAll(async () => Promise.all([strict.close(), relaxed.close()]));

  it.each([...REFUSED_UNLESS_PRIVATE, ...ALWAYS_REFUSED])('refuses %s by default', async (url) => {
    expect(await refusal(strict, url)).toBe('ADDRESS_NOT_ALLOWED');
  });

  it.each(REFUSED_UNLESS_PRIVATE)('allows %s with ALLOW_PRIVATE_UPSTREAMS', async (url) => {
    expect(await refusal(relaxed, url)).toBeNull();
  });

  it.each(ALWAYS_REFUSED)('refuses %s even with ALLOW_PRIVATE_UPSTREAMS', async (url) => {
    expect(await refusal(relaxed, url)).toBe('ADDRESS_NOT_ALLOWED');
  });

  it('allows public addresses and refuses what is not an http(s) URL', async () => {
    expect(await refusal(strict, 'https://8.8.8.8/v1')).toBeNull();
    expect(await refusal(strict, 'https://[2606:4700:4700::1111]/')).toBeNull();
    expect(await refusal(strict, 'ftp://8.8.8.8/')).toBe('INVALID_URL');
    expect(await refusal(strict, 'not a url')).toBe('INVALID_URL');
    expect(await refusal(strict, 'http://no-such-host.invalid/')).toBe('HOST_NOT_FOUND');
  });

  it('names the range, and says link-local is never allowed', async () => {
    expect(addressRefusal('169.254.169.254', true)).toBe('a link-local address');
    expect(addressRefusal('::ffff:a9fe:a9fe', true)).toBe('a link-local address');
    expect(addressRefusal('10.0.0.1', false)).toBe('a private address');
    expect(addressRefusal('100.64.0.1', false)).toBe('a carrier-grade NAT address');
    expect(addressRefusal('192.0.2.1', true)).toBe('a reserved address');
    const err = await strict.check('http://169.254.169.254/').catch((e: Error) => e);
    expect((err as Error).message).toBe(
      'resolves to a link-local address; only public addresses are allowed',
    );
  });

  describe('its dispatcher (the address connected to is the address checked)', () => {
    let server: Server;
    let port = 0;
    let connections = 0;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      server = createServer((socket) => {
        connections++;
        sockets.push(socket);
        socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => server.close(r));
    });

    it('never connects to a refused address, by literal or by name', async () => {
      for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]']) {
        const err = await request(`http://${host}:${port}/`, { dispatcher: strict.dispatcher }).catch(
          (e: unknown) => e,
        );
        expect({ host, failure: outboundFailure(err) }).toEqual({ host, failure: 'ADDRESS_NOT_ALLOWED' });
      }
      expect(connections).toBe(0);
    });

    it('checks every connection of a client of its own (a Pool, as the gateway keeps per provider)', async () => {
      const pool = new Pool(`http://localhost:${port}`, { connect: strict.connect });
      const err = await pool.request({ path: '/', method: 'GET' }).catch((e: unknown) => e);
      await pool.close();
      expect(outboundFailure(err)).toBe('ADDRESS_NOT_ALLOWED');
      expect(connections).toBe(0);
    });

    it('connects where the policy allows it', async () => {
      const res = await request(`http://localhost:${port}/`, { dispatcher: relaxed.dispatcher });
      await res.body.dump();
      expect(res.statusCode).toBe(204);
      expect(connections).toBe(1);
    });
  });
});
