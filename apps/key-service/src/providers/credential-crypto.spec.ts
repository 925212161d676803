import { randomBytes } from 'node:crypto';
import { isDomainError } from '../domain-errors';
import {
  CredentialCipher,
  decryptCredential,
  encryptCredential,
  parseMasterKey,
  type EncryptedCredential,
} from './credential-crypto';

const SECRET = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';
const ID = 'prv_0000000000000000000001';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return isDomainError(e) ? e.code : `non-domain: ${(e as Error).message}`;
  }
  return undefined;
};

const flipByte = (b64: string, index: number): string => {
  const raw = Buffer.from(b64, 'base64');
  raw[index < 0 ? raw.length + index : index] ^= 0x01;
  return raw.toString('base64');
};

describe('credential envelope encryption', () => {
  const master = randomBytes(32);

  it('round-trips a secret', () => {
    const sealed = encryptCredential(master, ID, SECRET);
    expect(decryptCredential(master, ID, sealed)).toBe(SECRET);
  });

  it('uses a fresh data key and IV every time and never contains the secret', () => {
    const a = encryptCredential(master, ID, SECRET);
    const b = encryptCredential(master, ID, SECRET);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.wrappedDataKey).not.toBe(b.wrappedDataKey);
    for (const blob of [a.ciphertext, a.wrappedDataKey]) {
      expect(blob).not.toContain(SECRET);
      expect(Buffer.from(blob, 'base64').toString('latin1')).not.toContain(SECRET);
      expect(blob).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    }
  });

  it.each<[string, (s: EncryptedCredential) => EncryptedCredential]>([
    ['ciphertext body', (s) => ({ ...s, ciphertext: flipByte(s.ciphertext, 14) })],
    ['ciphertext tag', (s) => ({ ...s, ciphertext: flipByte(s.ciphertext, -1) })],
    ['ciphertext iv', (s) => ({ ...s, ciphertext: flipByte(s.ciphertext, 0) })],
    ['wrapped data key', (s) => ({ ...s, wrappedDataKey: flipByte(s.wrappedDataKey, 20) })],
    ['truncated ciphertext', (s) => ({ ...s, ciphertext: s.ciphertext.slice(0, 8) })],
  ])('detects tampering with the %s', (_what, tamper) => {
    const sealed = encryptCredential(master, ID, SECRET);
    expect(codeOf(() => decryptCredential(master, ID, tamper(sealed)))).toBe('CREDENTIAL_UNREADABLE');
  });

  it('refuses a wrong master key with a message that reveals nothing', () => {
    const sealed = encryptCredential(master, ID, SECRET);
    try {
      decryptCredential(randomBytes(32), ID, sealed);
      throw new Error('decrypted with the wrong key');
    } catch (e) {
      expect(isDomainError(e) && e.code).toBe('CREDENTIAL_UNREADABLE');
      const text = `${(e as Error).message} ${JSON.stringify((e as { details?: unknown }).details)}`;
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(sealed.ciphertext);
      expect(text).not.toContain(master.toString('base64'));
    }
  });

  it('binds the blobs to their credential id', () => {
    const sealed = encryptCredential(master, ID, SECRET);
    expect(codeOf(() => decryptCredential(master, 'prv_0000000000000000000002', sealed))).toBe(
      'CREDENTIAL_UNREADABLE',
    );
  });

  it('parses the master key and treats empty as not configured', () => {
    expect(parseMasterKey(undefined)).toBeNull();
    expect(parseMasterKey('')).toBeNull();
    expect(parseMasterKey(master.toString('base64'))?.equals(master)).toBe(true);
    expect(() => parseMasterKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('answers MASTER_KEY_NOT_CONFIGURED without a master key', () => {
    const cipher = new CredentialCipher(null);
    expect(codeOf(() => cipher.encrypt(ID, SECRET))).toBe('MASTER_KEY_NOT_CONFIGURED');
    const withKey = new CredentialCipher(master);
    expect(withKey.decrypt(ID, withKey.encrypt(ID, SECRET))).toBe(SECRET);
  });
});
