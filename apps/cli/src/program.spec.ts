import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Io } from './io/io';
import { run } from './program';

// The command line's contract without a stack: exit codes, usage errors, how API errors and unreachable
// services read. (The commands against the real services: test/e2e/cli.*.e2e-spec.ts.)
describe('keygate command line', () => {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'keygate-cli-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const cli = async (args: string[], env: Record<string, string> = {}, stdin = '', stdoutIsTTY = false) => {
    let out = '';
    let err = '';
    const io: Io = {
      out: (t) => void (out += t),
      err: (t) => void (err += t),
      stdin: Readable.from(stdin ? [Buffer.from(stdin)] : []),
      stdoutIsTTY,
      env: { HOME: home, ...env },
      cwd: home,
    };
    const code = await run(args, io);
    return { code, out, err };
  };

  it('exits 0 with help, 2 on usage errors (missing flag, bad value, unknown command)', async () => {
    expect(await cli(['keys', 'create', '--help'])).toMatchObject({
      code: 0,
      out: expect.stringContaining('--save'),
    });
    const missing = await cli(['keys', 'revoke', 'key_1']);
    expect(missing).toMatchObject({
      code: 2,
      err: expect.stringContaining("required option '--reason <reason>'"),
    });
    const bad = await cli(['keys', 'create', '--name', 'x', '--budget', '25/year']);
    expect(bad).toMatchObject({ code: 2, err: expect.stringContaining('expected USD/day|week|month') });
    expect((await cli(['kyes'])).code).toBe(2);
    expect((await cli(['keys', 'list', '--state', 'dormant'])).code).toBe(2);
  });

  it('exits 2 without a token, before sending anything', async () => {
    const res = await cli(['keys', 'list']);
    expect(res).toMatchObject({ code: 2, err: expect.stringContaining('no admin token') });
  });

  it('refuses a provider secret on the command line', async () => {
    const res = await cli(
      ['providers', 'add', '--name', 'p', '--type', 'openai', '--secret', 'sk-123456789'],
      {
        KEYGATE_TOKEN: 'kgadm_x',
      },
    );
    expect(res.code).toBe(2);
    expect(res.err).toContain('never taken from the command line');
    expect(res.err).not.toContain('sk-123456789');
  });

  it('names the URL it could not reach, and exits 1', async () => {
    const res = await cli(['keys', 'list'], { KEYGATE_URL: 'http://127.0.0.1:9', KEYGATE_TOKEN: 'kgadm_x' });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(
      /^error CONNECTION_FAILED: cannot reach the key-service at http:\/\/127\.0\.0\.1:9 \(/,
    );
    const usage = await cli(['stale', '--json'], {
      KEYGATE_USAGE_URL: 'http://127.0.0.1:9',
      KEYGATE_TOKEN: 'x',
    });
    expect(JSON.parse(usage.err).error).toMatchObject({ code: 'CONNECTION_FAILED' });
    expect(usage.err).toContain('usage-service at http://127.0.0.1:9');
  });

  describe('against an HTTP server answering errors', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.setHeader('x-request-id', 'req_header');
        if (req.url?.startsWith('/v1/keys/key_gone')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end(
            JSON.stringify({
              error: { code: 'KEY_NOT_FOUND', message: 'no key key_gone', requestId: 'req_1' },
            }),
          );
        }
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>bad gateway</html>');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((r) => server.close(r)));

    it("prints the API's code, message and request id, as text or JSON", async () => {
      const env = { KEYGATE_URL: url, KEYGATE_TOKEN: 'kgadm_secret_token' };
      const text = await cli(['keys', 'show', 'key_gone'], env);
      expect(text).toEqual({
        code: 1,
        out: '',
        err: 'error KEY_NOT_FOUND: no key key_gone (request req_1)\n',
      });
      const json = await cli(['keys', 'show', 'key_gone', '--json'], env);
      expect(JSON.parse(json.err)).toEqual({
        error: { code: 'KEY_NOT_FOUND', message: 'no key key_gone', requestId: 'req_1', status: 404 },
      });
      const proxy = await cli(['routes'], env);
      expect(proxy).toMatchObject({
        code: 1,
        err: expect.stringMatching(/^error HTTP_502: .*\(request req_header\)/),
      });
      for (const r of [text, json, proxy]) expect(r.out + r.err).not.toContain('kgadm_secret_token');
    });
  });

  // A server that records each request and answers `answer` with 200.
  const recordingServer = async (answer: object) => {
    const seen: { method: string; url: string; ifMatch?: string; body: unknown }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({
          method: req.method!,
          url: req.url!,
          ifMatch: req.headers['if-match'],
          body: body ? JSON.parse(body) : undefined,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const env = {
      KEYGATE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      KEYGATE_TOKEN: 'kgadm_x',
    };
    return { seen, env, close: () => new Promise((r) => server.close(r)) };
  };

  it('builds update requests from the current key: If-Match, merged rate limit, "none" as null', async () => {
    const key = { id: 'key_1', version: 3, rateLimit: { tier: 'free' }, metadata: { app: 'a' } };
    const { seen, env, close } = await recordingServer({ ...key, state: 'active' });
    try {
      const res = await cli(
        [
          'keys',
          'update',
          'key_1',
          '--budget',
          'none',
          '--expires',
          'never',
          '--rotation-days',
          'none',
          '--rpm',
          '5',
          '--max-concurrent',
          '4',
          '--route-limit',
          'gpt-4o=10',
          '--route-limit',
          'gpt-4o-mini=/40000',
          '--metadata',
          'team=x',
          '--ip-deny',
          'none',
          '--add-group',
          'grp_2',
          '--json',
        ],
        env,
      );
      expect(res.code).toBe(0);
      expect(seen).toEqual([
        { method: 'GET', url: '/v1/keys/key_1', ifMatch: undefined, body: undefined },
        {
          method: 'PATCH',
          url: '/v1/keys/key_1',
          ifMatch: '"3"',
          body: {
            expiresAt: null,
            ipDeny: [],
            rateLimit: {
              tier: 'free',
              requestsPerMinute: 5,
              maxConcurrentRequests: 4,
              routes: { 'gpt-4o': { requestsPerMinute: 10 }, 'gpt-4o-mini': { tokensPerMinute: 40000 } },
            },
            budget: null,
            rotationPeriodDays: null,
            metadata: { app: 'a', team: 'x' },
          },
        },
        { method: 'PUT', url: '/v1/keys/key_1/groups/grp_2', ifMatch: undefined, body: undefined },
      ]);
      const nothing = await cli(['keys', 'update', 'key_1'], env);
      expect(nothing).toMatchObject({ code: 2, err: expect.stringContaining('nothing to update') });
      expect(seen).toHaveLength(3);
    } finally {
      await close();
    }
  });

  it("shows a key's per-route limits beside its own", async () => {
    const rateLimit = {
      requestsPerMinute: 100,
      routes: {
        'gpt-4o': { requestsPerMinute: 10 },
        'gpt-4o-mini': { requestsPerMinute: 5, tokensPerMinute: 900 },
      },
    };
    const { env, close } = await recordingServer({
      id: 'key_1',
      groupIds: [],
      ipAllow: [],
      ipDeny: [],
      rateLimit,
    });
    try {
      const { out } = await cli(['keys', 'show', 'key_1'], env);
      expect(out).toMatch(/rate limit\s+100 rpm\n/);
      expect(out).toMatch(/route limits\s+gpt-4o: 10 rpm; gpt-4o-mini: 5 rpm, 900 tpm\n/);
    } finally {
      await close();
    }
  });

  it('sends group budgets: --budget-usd with --budget-period, --no-budget removes it', async () => {
    const group = {
      id: 'grp_1',
      name: 'g',
      routes: [],
      budget: { amountUsd: '250', period: 'month' },
      version: 1,
    };
    const { seen, env, close } = await recordingServer(group);
    try {
      const created = await cli(
        ['groups', 'create', '--name', 'g', '--budget-usd', '$250', '--budget-period', 'month'],
        env,
      );
      expect(created).toMatchObject({ code: 0, out: expect.stringMatching(/budget\s+\$250\/month/) });
      expect((await cli(['groups', 'update', 'grp_1', '--no-budget'], env)).code).toBe(0);
      expect(seen.map((r) => [r.method, r.url, r.body])).toEqual([
        ['POST', '/v1/groups', { name: 'g', routes: [], budget: { amountUsd: '250', period: 'month' } }],
        ['PATCH', '/v1/groups/grp_1', { budget: null }],
      ]);
      for (const [args, message] of [
        [['--budget-usd', '5'], 'go together'],
        [['--budget-period', 'month', '--no-budget'], 'cannot be combined'],
        [['--budget-usd', '1.1234567', '--budget-period', 'day'], 'at most 6 decimal places'],
        [['--budget-usd', '5', '--budget-period', 'year'], 'expected one of day, week, month'],
      ])
        expect(await cli(['groups', 'update', 'grp_1', ...args], env)).toMatchObject({
          code: 2,
          err: expect.stringContaining(message as string),
        });
      expect(seen).toHaveLength(2);
    } finally {
      await close();
    }
  });

  it('prints a .pak file as exports, but not onto a terminal unless asked', async () => {
    const file = join(home, 'app.pak');
    const key = `kg_live_${'b'.repeat(43)}000000`;
    writeFileSync(
      file,
      JSON.stringify({
        format: 'keygate-key/1',
        id: 'key_1',
        name: 'app',
        environment: 'live',
        key,
        baseUrl: 'http://gw/v1',
      }),
    );
    expect(await cli(['env', file])).toMatchObject({
      code: 0,
      out: `export OPENAI_API_KEY='${key}'\nexport OPENAI_BASE_URL='http://gw/v1'\n`,
    });
    const tty = await cli(['env', file], {}, '', true);
    expect(tty).toMatchObject({ code: 2, out: '' });
    expect(tty.err).not.toContain(key);
    expect((await cli(['env', file, '--reveal'], {}, '', true)).out).toContain(key);
  });

  it('completes commands, subcommands and options in bash', async () => {
    const { out: completion } = await cli(['completion', 'bash']);
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `${completion}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _keygate; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: 'utf8' },
      )
        .split('\n')
        .filter(Boolean);
    expect(complete('keygate', 'ke')).toEqual(['keys']);
    expect(complete('keygate', 'keys', '')).toEqual(
      expect.arrayContaining(['list', 'create', 'rotate', 'revoke']),
    );
    expect(complete('keygate', '--json', 'keys', 'create', '--na')).toEqual(['--name']);
    expect(complete('keygate', 'keys', 'list', '--owner', 'team', '--sta')).toEqual(['--state']);
    expect(complete('keygate', 'providers', 'add', '--sec')).toEqual([]); // the hidden --secret is not offered
    expect(complete('keygate', 'usage', 'summary', '--gr')).toEqual(['--group-by']);
  });

  const hasZsh = (() => {
    try {
      execFileSync('zsh', ['-c', 'true']);
      return true;
    } catch {
      return false;
    }
  })();

  it('prints a zsh completion script of the same commands', async () => {
    const res = await cli(['completion', 'zsh']);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^#compdef keygate\n/);
    expect(res.out).toContain("'--save:write the key to a .pak file");
    expect((await cli(['completion', 'fish'])).code).toBe(2);
  });

  // zsh's completion system needs a terminal; its entry points are stubbed to print what they are handed.
  (hasZsh ? it : it.skip)('offers subcommands, options and files in zsh', async () => {
    const { out: script } = await cli(['completion', 'zsh']);
    const complete = (...words: string[]) =>
      execFileSync(
        'zsh',
        [
          '-c',
          `compdef() { :; }; _describe() { print -l -- "\${(@P)4}"; }; _files() { print FILES; }\n${script}\n` +
            `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; PREFIX='${words.at(-1)}'; _keygate`,
        ],
        { encoding: 'utf8' },
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/(?<!\\):/)[0]);
    expect(complete('keygate', 'keys', '')).toEqual(expect.arrayContaining(['list', 'create', 'rotate']));
    expect(complete('keygate', '--json', 'keys', 'create', '--')).toEqual(
      expect.arrayContaining(['--name', '--save', '--budget', '--json', '--url']),
    );
    expect(complete('keygate', 'env', '')).toEqual(['FILES']);
  });
});
