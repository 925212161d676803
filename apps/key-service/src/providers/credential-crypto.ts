import {
  CredentialUnreadableError,
  decryptCredential as openCredential,
  encryptCredential,
  type EncryptedCredential,
} from '@keygate/contracts';
import { DomainError } from '../domain-errors';

// The envelope format lives in libs/contracts (the gateway decrypts the same blobs); here it is wrapped with
// the domain errors the management API answers with.
export { encryptCredential, parseMasterKey, type EncryptedCredential } from '@keygate/contracts';

// Throws CREDENTIAL_UNREADABLE on a wrong master key, a tampered blob or a blob of another credential.
export const decryptCredential = (
  masterKey: Buffer,
  credentialId: string,
  encrypted: EncryptedCredential,
): string => {
  try {
    return openCredential(masterKey, credentialId, encrypted);
  } catch (e) {
    if (e instanceof CredentialUnreadableError)
      throw new DomainError('CREDENTIAL_UNREADABLE', e.message, { credentialId });
    throw e;
  }
};

// The master key as a Nest-injectable value, so the service can fail with a clear code when it is missing.
export class CredentialCipher {
  constructor(private readonly masterKey: Buffer | null) {}

  private key(): Buffer {
    if (!this.masterKey)
      throw new DomainError(
        'MASTER_KEY_NOT_CONFIGURED',
        'KEYGATE_MASTER_KEY is not set: provider credentials cannot be stored or read (32 bytes, base64)',
      );
    return this.masterKey;
  }

  encrypt(credentialId: string, secret: string): EncryptedCredential {
    return encryptCredential(this.key(), credentialId, secret);
  }

  decrypt(credentialId: string, encrypted: EncryptedCredential): string {
    return decryptCredential(this.key(), credentialId, encrypted);
  }
}
