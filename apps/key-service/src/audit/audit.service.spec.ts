import type { StoredEvent } from '../event-store/event-store';
import { redactEventData, toAuditEntry } from './audit.service';

const stored = (type: string, data: Record<string, unknown>): StoredEvent => ({
  streamId: 'prv_0000000000000000000001',
  streamPosition: 2,
  globalPosition: 42,
  eventId: '00000000-0000-4000-8000-000000000001',
  type,
  schemaVersion: 1,
  data,
  metadata: { actor: 'adm_x', requestId: 'req_1' },
  createdAt: new Date('2025-01-31T12:00:00Z'),
});

describe('audit entries', () => {
  it('drop hashes and ciphertext but keep what an auditor needs', () => {
    const entry = toAuditEntry(
      stored('ProviderCredentialRotated', {
        credentialId: 'prv_0000000000000000000001',
        ciphertext: 'Y2lwaGVy',
        wrappedDataKey: 'd3JhcHBlZA==',
        last4: 'abcd',
      }),
    );
    expect(entry).toEqual({
      id: '00000000-0000-4000-8000-000000000001',
      position: 42,
      type: 'ProviderCredentialRotated',
      aggregateId: 'prv_0000000000000000000001',
      streamPosition: 2,
      actor: 'adm_x',
      requestId: 'req_1',
      time: '2025-01-31T12:00:00.000Z',
      data: { credentialId: 'prv_0000000000000000000001', last4: 'abcd' },
    });
  });

  it.each([
    ['KeyCreated', { keyId: 'k', hash: 'h', last4: '1234' }],
    ['KeyRotated', { keyId: 'k', hash: 'h', previousHash: 'p', last4: '1234' }],
    ['AdminTokenIssued', { tokenId: 't', hash: 'h', last4: '1234', role: 'admin' }],
  ])('%s shows no hash', (_type, data) => {
    const shown = redactEventData(data);
    expect(shown).not.toHaveProperty('hash');
    expect(shown).not.toHaveProperty('previousHash');
    expect(shown).toHaveProperty('last4', '1234');
  });
});
