// The least a proxy costs on this machine: node:http in, one Redis round trip (a Lua INCR, as a limiter runs one),
// undici out with a keep-alive pool, the answer piped back. No auth, no usage events, no telemetry, no framework.
// A reference column for `npm run bench`, not a product: what keygate adds beyond it is what its features cost.
//   node dist/bench/lib/bare-proxy.js <port> <upstream base URL> <redis URL>
import { createServer } from 'node:http';
import Redis from 'ioredis';
import { Pool } from 'undici';

const [port, upstream, redisUrl] = process.argv.slice(2);
const pool = new Pool(upstream, { connections: 128 });
const redis = new Redis(redisUrl);
// EVALSHA, as ioredis runs the gateway's limiter script.
redis.defineCommand('bareLimit', { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" });
const limit = (key: string): Promise<unknown> =>
  (redis as unknown as { bareLimit(k: string): Promise<unknown> }).bareLimit(key);

const server = createServer((req, res) => {
  if (req.url === '/health') return void res.writeHead(200).end('ok');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    limit('bench:bare-proxy')
      .then(() =>
        pool.request({
          path: req.url ?? '/',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer mock-openai' },
          body,
        }),
      )
      .then((up) => {
        res.writeHead(up.statusCode, {
          'content-type': String(up.headers['content-type'] ?? 'application/json'),
        });
        up.body.pipe(res);
      })
      .catch(() => void res.writeHead(502).end());
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`bare proxy on :${port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    server.close();
    void pool.close();
    redis.disconnect();
    process.exit(0);
  });
