import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testStack } from '@keygate/testing';
import { json, keygateCli } from './support/keygate-cli';

// Where the admin token comes from, and where it never goes: `keygate login` reads it from stdin (a prompt on a
// terminal) into a 0600 profile; inside a checkout running `npm run up`, .stack/admin-token; never printed.
describe('keygate CLI: tokens and profiles', () => {
  const stack = testStack();
  const { run, home } = keygateCli(stack, { env: { KEYGATE_TOKEN: undefined } });
  const configFile = join(home, '.config', 'keygate', 'config.json');

  it('logs in with a token from stdin, stores it 0600, uses it, and never prints it', async () => {
    const bad = await run(['login', '--profile', 'e2e'], {
      stdin: `kgadm_bad_${randomBytes(6).toString('hex')}\n`,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error UNAUTHENTICATED: /);
    expect(() => statSync(configFile)).toThrow(); // nothing stored for a token the API refused

    const viaFlag = await run(['login', '--token', stack.adminToken]);
    expect(viaFlag.code).toBe(2);
    expect(viaFlag.stderr).not.toContain(stack.adminToken);

    const login = await run(['login', '--profile', 'e2e'], { stdin: `${stack.adminToken}\n` });
    expect(login).toMatchObject({ code: 0, stdout: expect.stringContaining('as profile "e2e"') });
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toMatchObject({
      current: 'e2e',
      profiles: {
        e2e: { url: stack.keyServiceUrl, usageUrl: stack.usageServiceUrl, token: stack.adminToken },
      },
    });

    // No KEYGATE_TOKEN, no URL variables: everything from the profile.
    const env = { KEYGATE_URL: undefined, KEYGATE_USAGE_URL: undefined };
    expect(json<any>(await run(['routes', '--json'], { env })).data.length).toBeGreaterThan(0);
    expect(json<any>(await run(['stale', '--json'], { env })).data).toEqual(expect.any(Array));
    const profiles = await run(['profiles', '--json']);
    expect(json<any>(profiles).data).toEqual([
      expect.objectContaining({ name: 'e2e', current: true, hasToken: true }),
    ]);
    for (const r of [login, profiles]) expect(r.stdout + r.stderr).not.toContain(stack.adminToken);

    expect((await run(['logout'])).code).toBe(0);
    expect((await run(['routes'], { env })).code).toBe(2); // no token anywhere now
  });

  it("uses a checkout's .stack/admin-token when nothing else gives a token", async () => {
    const checkout = join(home, 'keygate-checkout');
    mkdirSync(join(checkout, '.stack'), { recursive: true });
    mkdirSync(join(checkout, 'apps'), { recursive: true });
    writeFileSync(join(checkout, 'package.json'), JSON.stringify({ name: 'keygate' }));
    writeFileSync(join(checkout, '.stack', 'admin-token'), `${stack.adminToken}\n`);
    const res = await run(['routes', '--json'], { cwd: join(checkout, 'apps') });
    expect(json<any>(res).data.length).toBeGreaterThan(0);
    expect((await run(['routes'], { cwd: home })).stderr).toContain('no admin token');
  });
});
