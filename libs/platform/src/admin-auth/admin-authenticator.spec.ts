import { createHash } from 'node:crypto';
import { AdminAuthError, AdminAuthenticator, BOOTSTRAP_ACTOR, bearerToken } from './admin-authenticator';
import { BOOTSTRAP_TOKEN, FakeAdminTokens } from './admin-tokens.fixtures';

const refusal = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof AdminAuthError)) throw new Error(`expected an AdminAuthError, got ${String(e)}`);
  return { code: e.code, message: e.message };
};

describe('AdminAuthenticator', () => {
  let tokens: FakeAdminTokens;
  let auth: AdminAuthenticator;
  beforeEach(() => {
    tokens = new FakeAdminTokens();
    tokens.issue('kgadm_admin', { id: 'adm_1', role: 'admin' });
    tokens.issue('kgadm_auditor', { id: 'adm_2', role: 'auditor' });
    auth = new AdminAuthenticator(BOOTSTRAP_TOKEN, tokens.lookup);
  });

  it('refuses a missing token without looking anything up', async () => {
    for (const header of [undefined, '', null])
      expect(await refusal(auth.authenticate(header))).toEqual({
        code: 'UNAUTHENTICATED',
        message: 'an admin token is required: Authorization: Bearer <token>',
      });
    expect(tokens.asked).toEqual([]);
  });

  it('refuses a malformed Authorization header without looking anything up', async () => {
    const malformed = [
      'kgadm_admin', // no scheme
      'Basic kgadm_admin',
      'Bearer',
      'Bearer ',
      'Bearer kgadm_admin extra',
      `Bearer ${'x'.repeat(513)}`,
      ['Bearer kgadm_admin'], // a repeated header arrives as an array
      42,
    ];
    for (const header of malformed)
      expect((await refusal(auth.authenticate(header))).code).toBe('UNAUTHENTICATED');
    expect(tokens.asked).toEqual([]);
  });

  it('refuses an unknown token after one lookup by its SHA-256', async () => {
    expect(await refusal(auth.authenticate('Bearer kgadm_nobody'))).toEqual({
      code: 'UNAUTHENTICATED',
      message: 'the admin token is invalid or revoked',
    });
    expect(tokens.asked).toEqual([createHash('sha256').update('kgadm_nobody').digest('hex')]);
  });

  it('refuses a revoked token that worked before', async () => {
    await expect(auth.authenticate('Bearer kgadm_admin')).resolves.toEqual({ id: 'adm_1', role: 'admin' });
    tokens.revoke('kgadm_admin');
    expect(await refusal(auth.authenticate('Bearer kgadm_admin'))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('knows the bootstrap token without a lookup, and issued tokens by lookup (scheme in any case)', async () => {
    await expect(auth.authenticate(`Bearer ${BOOTSTRAP_TOKEN}`)).resolves.toEqual(BOOTSTRAP_ACTOR);
    expect(tokens.asked).toEqual([]);
    await expect(auth.authenticate('bearer   kgadm_auditor')).resolves.toEqual({
      id: 'adm_2',
      role: 'auditor',
    });
  });

  it('lets auditors read only', () => {
    const auditor = { id: 'adm_2', role: 'auditor' } as const;
    expect(() => auth.authorize(auditor, false)).not.toThrow();
    expect(() => auth.authorize(auditor, true)).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN', message: 'auditor tokens may only read' }),
    );
    expect(() => auth.authorize(BOOTSTRAP_ACTOR, true)).not.toThrow();
  });
});

describe('bearerToken', () => {
  it('takes the one token after Bearer, at most 512 characters', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken(`Bearer ${'a'.repeat(512)}`)).toHaveLength(512);
    expect(bearerToken(`Bearer ${'a'.repeat(513)}`)).toBeNull();
    expect(bearerToken('Token abc')).toBeNull();
  });
});
