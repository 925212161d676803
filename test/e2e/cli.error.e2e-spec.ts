import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, freeTestPort, testStack } from '@keygate/testing';
import { json, keygateCli } from './support/keygate-cli';

// What a script sees when something is wrong: exit 1 with the API's code, message and request id; exit 2 for a
// wrong command line — and in both cases nothing changed.
describe('keygate CLI: errors and exit codes', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const { run, home } = keygateCli(stack);
  const tag = randomBytes(4).toString('hex');
  const owner = `team-cli-err-${tag}`;
  const keysOf = async (o: string) =>
    (await admin<any>('GET', `/v1/keys?ownerId=${o}`)).body.data as unknown[];

  it('exits 1 with UNAUTHENTICATED and a request id on a bad token, without echoing the token', async () => {
    const badToken = `kgadm_wrong_${randomBytes(8).toString('hex')}`;
    const res = await run(['keys', 'list'], { env: { KEYGATE_TOKEN: badToken } });
    expect(res.code).toBe(1);
    // The issue says UNAUTHORIZED; the management API's code for a bad token is UNAUTHENTICATED (401).
    expect(res.stderr).toMatch(
      /^error UNAUTHENTICATED: the admin token is invalid or revoked \(request \S+\)\n$/,
    );
    expect(res.stdout).toBe('');
    const asJson = await run(['usage', 'summary', '--json'], { env: { KEYGATE_TOKEN: badToken } });
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stderr).error).toEqual({
      code: 'UNAUTHENTICATED',
      message: expect.any(String),
      requestId: expect.any(String),
      status: 401,
    });
    for (const r of [res, asJson]) expect(r.stdout + r.stderr).not.toContain(badToken);
  });

  it('exits 2 on a missing required flag or a bad value, and creates nothing', async () => {
    const noName = await run(['keys', 'create', '--owner', owner]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("required option '--name <name>' not specified");
    const badBudget = await run(['keys', 'create', '--name', 'x', '--owner', owner, '--budget', 'lots']);
    expect(badBudget.code).toBe(2);
    expect(badBudget.stderr).toContain("option '--budget <usd/period>' argument 'lots' is invalid");
    // The key-service requires ownerId today: its refusal comes through, with the flag that sets it (once issue 16
    // makes ownerId optional, this create succeeds and there is no refusal to check).
    const noOwner = await run(['keys', 'create', '--name', `no-owner-${tag}`]);
    if (noOwner.code !== 0) {
      expect(noOwner.code).toBe(1);
      expect(noOwner.stderr).toMatch(
        /^error VALIDATION_FAILED: .*ownerId.* \(set it with --owner\) \(request \S+\)\n$/,
      );
    }
    const noReason = await run(['keys', 'revoke', 'key_whatever']);
    expect(noReason.code).toBe(2);
    const taken = join(home, 'taken.pak');
    writeFileSync(taken, 'someone else');
    const overwrite = await run(['keys', 'create', '--name', 'x', '--owner', owner, '--save', taken]);
    expect(overwrite).toMatchObject({ code: 2, stderr: expect.stringContaining('already exists') });
    expect(await keysOf(owner)).toEqual([]);
  });

  it("exits 1 with the API's own code for a missing key, a refused value and an auditor's write", async () => {
    const missing = await run(['keys', 'show', 'key_doesnotexist']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error KEY_NOT_FOUND: .+ \(request \S+\)\n$/);

    const badCidr = await run([
      'keys',
      'create',
      '--name',
      'x',
      '--owner',
      owner,
      '--ip-allow',
      '10.0.0.0/99',
    ]);
    expect(badCidr.code).toBe(1);
    expect(badCidr.stderr).toMatch(/^error INVALID_CIDR: /);
    expect(await keysOf(owner)).toEqual([]);

    const created = json<any>(
      await run(['keys', 'create', '--name', `conflict-${tag}`, '--owner', owner, '--json']),
    );
    const twice = [
      await run(['keys', 'revoke', created.id, '--reason', 'one']),
      await run(['keys', 'revoke', created.id, '--reason', 'two']),
    ];
    expect(twice.map((r) => r.code)).toEqual([0, 1]);
    expect(twice[1].stderr).toMatch(/^error KEY_ALREADY_REVOKED: /);

    const auditor = await admin<any>('POST', '/v1/admin-tokens', {
      name: `cli-auditor-${tag}`,
      role: 'auditor',
    });
    expect(auditor.status).toBe(201);
    const env = { KEYGATE_TOKEN: auditor.body.token };
    expect((await run(['keys', 'list', '--owner', owner, '--json'], { env })).code).toBe(0);
    const write = await run(['keys', 'create', '--name', 'nope', '--owner', owner], { env });
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/^error FORBIDDEN: auditor tokens may only read/);
    expect(await keysOf(owner)).toHaveLength(1);
  });

  it('names the URL it cannot reach', async () => {
    const closed = `http://127.0.0.1:${await freeTestPort()}`; // nothing listens there any more
    const res = await run(['keys', 'list'], { env: { KEYGATE_URL: closed } });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `error CONNECTION_FAILED: cannot reach the key-service at ${closed} (ECONNREFUSED); set --url or KEYGATE_URL\n`,
    );
    const usage = await run(['alerts', 'list'], { env: { KEYGATE_USAGE_URL: closed } });
    expect(usage.stderr).toContain(`cannot reach the usage-service at ${closed} (ECONNREFUSED)`);
  });
});
