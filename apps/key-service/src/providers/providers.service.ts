import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { newId, type ProviderType } from '@keygate/contracts';
import {
  OutboundAddressError,
  OutboundPolicy,
  ROUTES_CONFIG,
  type RoutesConfig,
  type Caller,
} from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { CommandHandler } from '../event-store/command-handler';
import { CredentialCipher } from './credential-crypto';
import {
  providerCredentialDecider,
  URL_SETTINGS,
  type ProviderCredentialCommand,
  type ProviderCredentialContext,
} from './provider-credential.decider';
import { probeTarget, runProbe, type ProbeResult } from './provider-probe';

export interface ProviderResource {
  id: string;
  name: string;
  type: ProviderType;
  maskedSecret: string;
  settings: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface ProviderRow {
  id: string;
  name: string;
  type: ProviderType;
  ciphertext: string;
  wrapped_data_key: string;
  last4: string;
  settings: Record<string, string>;
  created_at: Date;
  updated_at: Date;
  version: number;
}

export interface ProviderInput {
  name: string;
  type: ProviderType;
  secret: string;
  settings?: Record<string, string | undefined>;
}

// Only the last 4 characters are stored in clear, so that is all a listing can show.
export const maskSecret = (last4: string): string => `…${last4}`;

const toResource = (r: ProviderRow): ProviderResource => ({
  id: r.id,
  name: r.name,
  type: r.type,
  maskedSecret: maskSecret(r.last4),
  settings: r.settings,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  version: r.version,
});

// DTO instances carry undefined for absent settings; the decider wants a plain map of strings. `"settings": null`
// passes the DTO's @IsOptional and means the same as absent.
const cleanSettings = (
  s: Record<string, string | undefined> | null | undefined,
): Record<string, string> | undefined =>
  s === undefined || s === null
    ? undefined
    : Object.fromEntries(Object.entries(s).filter((e): e is [string, string] => e[1] !== undefined));

const last4Of = (secret: string): string => secret.slice(-4).padStart(4, '*');

@Injectable()
export class ProvidersService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly commands: CommandHandler,
    private readonly cipher: CredentialCipher,
    @Inject(ROUTES_CONFIG) private readonly routes: RoutesConfig,
    private readonly outbound: OutboundPolicy,
  ) {}

  // Refused at creation (and at every connect, by the policy's dispatcher): a URL whose host resolves to a
  // loopback, private or link-local address, unless the operator allows private upstreams.
  private async checkUrls(settings: Record<string, string | undefined> | null | undefined): Promise<void> {
    for (const name of URL_SETTINGS) {
      const url = settings?.[name];
      if (typeof url !== 'string') continue;
      try {
        await this.outbound.check(url.trim());
      } catch (e) {
        if (!(e instanceof OutboundAddressError)) throw e;
        const code = e.code === 'ADDRESS_NOT_ALLOWED' ? 'ADDRESS_NOT_ALLOWED' : 'VALIDATION_FAILED';
        throw new DomainError(code, `settings.${name} ${e.message}`, { field: `settings.${name}` });
      }
    }
  }

  private async run(credentialId: string, command: ProviderCredentialCommand, caller: Caller) {
    try {
      return await this.commands.execute(
        providerCredentialDecider,
        credentialId,
        command,
        async (m): Promise<ProviderCredentialContext> => {
          const live: { id: string; name: string }[] = await m.query(
            `SELECT id, name FROM provider_credentials WHERE removed_at IS NULL`,
          );
          return {
            now: new Date(),
            credentialNameTaken: (name) => live.some((c) => c.id !== credentialId && c.name === name),
            credentialInUse: (name) =>
              Object.values(this.routes.providers).some((p) => p.credential === name),
          };
        },
        { actor: caller.actor.id, requestId: caller.requestId },
      );
    } catch (e) {
      // Two concurrent adds of one name: the read model's unique index is the tie-breaker.
      if ((e as { code?: string }).code === '23505' && /provider_credentials_name/.test(String(e)))
        throw new DomainError(
          'PROVIDER_ALREADY_EXISTS',
          'a provider credential with this name already exists',
        );
      throw e;
    }
  }

  async add(input: ProviderInput, caller: Caller): Promise<ProviderResource> {
    await this.checkUrls(input.settings);
    const credentialId = newId('prv');
    const sealed = this.cipher.encrypt(credentialId, input.secret);
    await this.run(
      credentialId,
      {
        type: 'AddProviderCredential',
        data: {
          credentialId,
          name: input.name,
          type: input.type,
          ...sealed,
          last4: last4Of(input.secret),
          settings: cleanSettings(input.settings),
        },
      },
      caller,
    );
    return this.get(credentialId);
  }

  async update(
    credentialId: string,
    settings: Record<string, string | undefined>,
    caller: Caller,
  ): Promise<ProviderResource> {
    await this.run(
      credentialId,
      { type: 'UpdateProviderCredential', data: { credentialId, settings: cleanSettings(settings) ?? {} } },
      caller,
    );
    return this.get(credentialId);
  }

  async rotate(
    credentialId: string,
    secret: string,
    settings: Record<string, string | undefined> | undefined,
    caller: Caller,
  ): Promise<ProviderResource> {
    await this.get(credentialId); // 404 before spending a data key on a missing credential
    await this.checkUrls(settings);
    const sealed = this.cipher.encrypt(credentialId, secret);
    await this.run(
      credentialId,
      {
        type: 'RotateProviderCredential',
        data: { credentialId, ...sealed, last4: last4Of(secret), settings: cleanSettings(settings) },
      },
      caller,
    );
    return this.get(credentialId);
  }

  async remove(credentialId: string, caller: Caller): Promise<void> {
    await this.run(credentialId, { type: 'RemoveProviderCredential', data: { credentialId } }, caller);
  }

  async test(credentialId: string): Promise<ProbeResult> {
    const row = await this.row(credentialId);
    const secret = this.cipher.decrypt(credentialId, {
      ciphertext: row.ciphertext,
      wrappedDataKey: row.wrapped_data_key,
    });
    return runProbe(probeTarget(row, secret, this.routes), secret, this.outbound.dispatcher);
  }

  async get(credentialId: string): Promise<ProviderResource> {
    return toResource(await this.row(credentialId));
  }

  async list(limit = 100, cursor?: string): Promise<{ data: ProviderResource[]; nextCursor: string | null }> {
    const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
    const rows: ProviderRow[] = await this.db.query(
      `SELECT * FROM provider_credentials WHERE removed_at IS NULL AND id > $1 ORDER BY id LIMIT $2`,
      [after, limit + 1],
    );
    const data = rows.slice(0, limit).map(toResource);
    return {
      data,
      nextCursor: rows.length > limit ? Buffer.from(data[data.length - 1].id).toString('base64url') : null,
    };
  }

  private async row(credentialId: string): Promise<ProviderRow> {
    const rows: ProviderRow[] = await this.db.query(
      `SELECT * FROM provider_credentials WHERE id = $1 AND removed_at IS NULL`,
      [credentialId],
    );
    if (rows.length === 0)
      throw new DomainError('PROVIDER_NOT_FOUND', `provider credential ${credentialId} not found`, {
        credentialId,
      });
    return rows[0];
  }
}
