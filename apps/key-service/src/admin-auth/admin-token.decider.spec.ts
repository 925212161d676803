import { deciderSpec } from '../api-keys/decider-spec.helper';
import {
  adminTokenDecider,
  evolve,
  initialState,
  isAdminTokenEvent,
  type AdminTokenCommand,
  type AdminTokenEvent,
} from './admin-token.decider';

const TOKEN_ID = `adm_${'C'.repeat(22)}`;
const HASH = 'c'.repeat(64);
const spec = deciderSpec(adminTokenDecider, () => ({ now: new Date('2030-01-01T00:00:00.000Z') }));

const issue = (
  data: Partial<Extract<AdminTokenCommand, { type: 'IssueAdminToken' }>['data']> = {},
): AdminTokenCommand => ({
  type: 'IssueAdminToken',
  data: { tokenId: TOKEN_ID, name: 'ops', role: 'admin', hash: HASH, last4: 'Wx7z', ...data },
});
const issued: AdminTokenEvent = {
  type: 'AdminTokenIssued',
  data: { tokenId: TOKEN_ID, name: 'ops', role: 'admin', hash: HASH, last4: 'Wx7z' },
};
const revoke: AdminTokenCommand = { type: 'RevokeAdminToken', data: { tokenId: TOKEN_ID } };
const revoked: AdminTokenEvent = { type: 'AdminTokenRevoked', data: { tokenId: TOKEN_ID } };

describe('admin token decider', () => {
  it('issues an admin or an auditor token', () => {
    spec.given([]).when(issue()).then([issued]);
    spec
      .given([])
      .when(issue({ role: 'auditor', name: ' read-only ' }))
      .then([{ type: 'AdminTokenIssued', data: { ...issued.data, role: 'auditor', name: 'read-only' } }]);
  });

  it('refuses to issue an id twice', () => {
    spec.given([issued]).when(issue()).thenThrows('ADMIN_TOKEN_ALREADY_EXISTS');
    spec.given([issued, revoked]).when(issue()).thenThrows('ADMIN_TOKEN_ALREADY_EXISTS');
  });

  it.each<[string, Parameters<typeof issue>[0]]>([
    ['an unknown role', { role: 'root' as never }],
    ['the plaintext token as hash', { hash: 'kgadm_plaintext' }],
    ['an empty name', { name: '' }],
    ['a malformed id', { tokenId: 'token-1' }],
    ['a bad last4', { last4: 'abcde' }],
  ])('refuses %s with VALIDATION_FAILED', (_label, data) => {
    spec.given([]).when(issue(data)).thenThrows('VALIDATION_FAILED');
  });

  it('revokes an issued token', () => {
    spec.given([issued]).when(revoke).then([revoked]);
  });

  it('refuses to revoke a missing or an already revoked token', () => {
    spec.given([]).when(revoke).thenThrows('ADMIN_TOKEN_NOT_FOUND', { tokenId: TOKEN_ID });
    spec.given([issued, revoked]).when(revoke).thenThrows('ADMIN_TOKEN_ALREADY_REVOKED');
  });

  it('folds events into state with the version as stream position', () => {
    expect([issued, revoked].reduce(evolve, initialState())).toEqual({
      exists: true,
      version: 2,
      ...issued.data,
      revoked: true,
    });
    expect(isAdminTokenEvent(revoked)).toBe(true);
    expect(isAdminTokenEvent({ type: 'GroupDeleted', data: { groupId: 'g' } })).toBe(false);
  });
});
