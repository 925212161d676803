import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Envelope encryption of provider credentials (DESIGN.md: events carry ciphertext only).
//
//   dataKey        = 32 random bytes, fresh for every add/rotate
//   ciphertext     = base64( iv(12) ‖ AES-256-GCM(dataKey, secret, aad) ‖ tag(16) )
//   wrappedDataKey = base64( iv(12) ‖ AES-256-GCM(masterKey, dataKey, aad) ‖ tag(16) )
//   aad            = "keygate:provider-credential:v1:<credentialId>"
//
// The AAD binds both blobs to their credential, so ciphertext copied onto another credential does not open.
// Whoever decrypts (key-service for /test, the gateway for upstream calls) needs KEYGATE_MASTER_KEY and this
// layout: keep them in step.

export class CredentialUnreadableError extends Error {
  constructor(readonly credentialId: string) {
    super('the stored provider credential cannot be decrypted with the configured KEYGATE_MASTER_KEY');
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export interface EncryptedCredential {
  ciphertext: string;
  wrappedDataKey: string;
}

const aadFor = (credentialId: string): Buffer =>
  Buffer.from(`keygate:provider-credential:v1:${credentialId}`, 'utf8');

const seal = (key: Buffer, plaintext: Buffer, aad: Buffer): string => {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
};

const open = (key: Buffer, sealed: string, aad: Buffer): Buffer => {
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
};

// KEYGATE_MASTER_KEY: 32 bytes in base64. Empty/absent = not configured (credentials cannot be added).
export const parseMasterKey = (value: string | undefined): Buffer | null => {
  if (value === undefined || value.trim() === '') return null;
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length !== KEY_BYTES) throw new Error('KEYGATE_MASTER_KEY must be 32 bytes in base64');
  return key;
};

export const encryptCredential = (
  masterKey: Buffer,
  credentialId: string,
  secret: string,
): EncryptedCredential => {
  const dataKey = randomBytes(KEY_BYTES);
  const aad = aadFor(credentialId);
  try {
    return {
      ciphertext: seal(dataKey, Buffer.from(secret, 'utf8'), aad),
      wrappedDataKey: seal(masterKey, dataKey, aad),
    };
  } finally {
    dataKey.fill(0);
  }
};

// Throws CredentialUnreadableError on a wrong master key, a tampered blob or a blob of another credential;
// the message never includes any part of the inputs.
export const decryptCredential = (
  masterKey: Buffer,
  credentialId: string,
  encrypted: EncryptedCredential,
): string => {
  const aad = aadFor(credentialId);
  let dataKey: Buffer | undefined;
  try {
    dataKey = open(masterKey, encrypted.wrappedDataKey, aad);
    if (dataKey.length !== KEY_BYTES) throw new Error('bad data key length');
    return open(dataKey, encrypted.ciphertext, aad).toString('utf8');
  } catch {
    throw new CredentialUnreadableError(credentialId);
  } finally {
    dataKey?.fill(0);
  }
};
