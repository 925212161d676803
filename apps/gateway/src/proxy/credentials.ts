import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { decryptCredential, parseMasterKey } from '@keygate/contracts';
import type { ProviderConfig } from '@keygate/platform';
import type { CredentialDocument } from '../key-projection/key-document';
import { KeyProjectionStore, parseChangeNotices, redisKeys } from '../key-projection/key-projection.store';
import { Reconciler } from '../key-projection/reconciler';
import { subscribe } from '../redis/redis-client';

// Resolves a provider's upstream secret, in memory only. `env:VAR` reads the environment; any other name is a
// provider credential managed in key-service, which reaches the gateway encrypted (keys.events → Redis) and is
// decrypted here with KEYGATE_MASTER_KEY.
export interface CredentialSource {
  resolve(provider: ProviderConfig): string | null;
}

export class CredentialVault implements CredentialSource, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('credentials');
  private readonly byName = new Map<string, { credentialId: string; secret: string }>();
  // The newest document seen per credential: a reload that read an older copy does not undo a newer one.
  private readonly versions = new Map<string, number>();
  private readonly fromEnv = new Map<string, string | null>();
  private readonly masterKey: Buffer | null;
  private readonly reconciler: Reconciler;

  constructor(
    private readonly store: KeyProjectionStore,
    private readonly subscriber: Redis,
    masterKey: string | undefined,
    reconcileMs: number,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.masterKey = parseMasterKey(masterKey);
    this.reconciler = new Reconciler('credentials', () => this.reloadAll(), reconcileMs);
  }

  async onApplicationBootstrap(): Promise<void> {
    // The authenticator subscribes to the change channel too (ioredis sends one SSUBSCRIBE per channel).
    await subscribe(this.subscriber, redisKeys.changes, (message) => void this.onChange(message));
    await this.reconciler.start(this.subscriber);
  }

  onApplicationShutdown(): void {
    this.reconciler.stop();
  }

  resolve(provider: ProviderConfig): string | null {
    if (provider.credential.startsWith('env:')) {
      // Read once per name: a running process's environment does not change, and each read of process.env is a
      // call into the C++ side (measurable per request).
      let value = this.fromEnv.get(provider.credential);
      if (value === undefined) {
        const v = this.env[provider.credential.slice(4)];
        value = v && v.length > 0 ? v : null;
        this.fromEnv.set(provider.credential, value);
      }
      return value;
    }
    return this.byName.get(provider.credential)?.secret ?? null;
  }

  private async reloadAll(): Promise<void> {
    for (const doc of await this.store.allCredentials()) this.put(doc);
  }

  private put(doc: CredentialDocument): void {
    if ((this.versions.get(doc.credentialId) ?? 0) >= doc.v) return;
    this.versions.set(doc.credentialId, doc.v);
    for (const [name, held] of this.byName)
      if (held.credentialId === doc.credentialId) this.byName.delete(name);
    if (doc.removed) return;
    if (!this.masterKey) {
      this.logger.warn(`credential ${doc.name} cannot be used: KEYGATE_MASTER_KEY is not set on the gateway`);
      return;
    }
    try {
      this.byName.set(doc.name, {
        credentialId: doc.credentialId,
        secret: decryptCredential(this.masterKey, doc.credentialId, doc),
      });
    } catch (e) {
      this.logger.error(`credential ${doc.name}: ${(e as Error).message}`);
    }
  }

  private async onChange(message: string): Promise<void> {
    const notices = parseChangeNotices(message);
    if (notices.some((n) => n.all)) return this.reconciler.request();
    const ids = notices.map((n) => n.credential).filter((id): id is string => !!id);
    if (ids.length === 0) return;
    const docs = await this.store.loadCredentials(ids).catch(() => null);
    // Unreadable now: reload everything, retried until it succeeds.
    if (!docs) return this.reconciler.request();
    for (const doc of docs.values()) this.put(doc);
  }
}
