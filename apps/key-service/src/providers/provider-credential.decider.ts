import {
  hasPrefix,
  isAggregateEvent,
  type AggregateEvent,
  type DomainEvent,
  type ProviderCredentialRotatedData,
  type ProviderType,
} from '@keygate/contracts';
import { DomainError } from '../domain-errors';

// Upstream provider credentials as a pure decider. The secret arrives already envelope-encrypted (the handler
// owns KEYGATE_MASTER_KEY); the decider only sees ciphertext, the wrapped data key and the last 4 characters.

export type ProviderCredentialEvent = AggregateEvent<'providerCredential'>;

export const isProviderCredentialEvent = (event: DomainEvent): event is ProviderCredentialEvent =>
  isAggregateEvent('providerCredential', event);

export const PROVIDER_TYPES: readonly ProviderType[] = ['openai', 'azure', 'gemini'];
export const PROVIDER_SETTING_NAMES = [
  'baseUrl',
  'endpoint',
  'deployment',
  'apiVersion',
  'organization',
] as const;

// The settings that say where the secret is sent.
export const URL_SETTINGS = ['baseUrl', 'endpoint'] as const;

export interface MissingProviderCredential {
  exists: false;
  version: number;
}

export interface ExistingProviderCredential {
  exists: true;
  version: number; // events applied = stream position
  credentialId: string;
  name: string;
  type: ProviderType;
  ciphertext: string;
  wrappedDataKey: string;
  last4: string;
  settings: Record<string, string>;
  removed: boolean; // removed credentials keep their history but answer PROVIDER_NOT_FOUND
}

export type ProviderCredentialState = MissingProviderCredential | ExistingProviderCredential;

export const initialState = (): ProviderCredentialState => ({ exists: false, version: 0 });

export const evolve = (
  state: ProviderCredentialState,
  event: ProviderCredentialEvent,
): ProviderCredentialState => {
  const version = state.version + 1;
  if (event.type === 'ProviderCredentialAdded') {
    const { credentialId, name, type, ciphertext, wrappedDataKey, last4, settings } = event.data;
    return {
      exists: true,
      version,
      credentialId,
      name,
      type,
      ciphertext,
      wrappedDataKey,
      last4,
      settings: { ...settings },
      removed: false,
    };
  }
  if (!state.exists) return { ...state, version };
  switch (event.type) {
    case 'ProviderCredentialRotated': {
      const { ciphertext, wrappedDataKey, last4, settings } = event.data;
      // settings, when present, replace the whole map (absent = unchanged).
      return {
        ...state,
        version,
        ciphertext,
        wrappedDataKey,
        last4,
        settings: settings ? { ...settings } : state.settings,
      };
    }
    case 'ProviderCredentialRemoved':
      return { ...state, version, removed: true };
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled provider credential event ${(unhandled as { type: string }).type}`);
    }
  }
};

interface EncryptedSecret {
  ciphertext: string; // base64 AES-256-GCM ciphertext
  wrappedDataKey: string; // base64, wrapped by KEYGATE_MASTER_KEY
  last4: string;
}

export type ProviderCredentialCommand =
  | {
      type: 'AddProviderCredential';
      data: EncryptedSecret & {
        credentialId: string;
        name: string;
        type: ProviderType;
        settings?: Record<string, string>;
      };
    }
  | {
      type: 'RotateProviderCredential';
      data: EncryptedSecret & { credentialId: string; settings?: Record<string, string> };
    }
  // Settings only (PATCH /v1/providers/:id). The name is immutable: routes.yaml refers to credentials by name.
  | { type: 'UpdateProviderCredential'; data: { credentialId: string; settings: Record<string, string> } }
  | { type: 'RemoveProviderCredential'; data: { credentialId: string } };

export interface ProviderCredentialContext {
  now: Date; // unused by the current events; kept so every decider takes the same kind of ctx
  credentialNameTaken: (name: string) => boolean; // another live credential has this name
  credentialInUse: (name: string) => boolean; // a provider in routes.yaml names it as its credential
}

const invalidField = (field: string, reason: string): DomainError =>
  new DomainError('VALIDATION_FAILED', `${field} ${reason}`, { field });

// The name routes.yaml uses (`credential: openai-prod`); no ':' so it can never be read as `env:VAR`.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Also a cheap guard against a clear secret in the wrong field: provider keys like `sk-proj-…` are not base64.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const requireSecret = (data: EncryptedSecret): EncryptedSecret => {
  if (typeof data.ciphertext !== 'string' || !BASE64.test(data.ciphertext))
    throw invalidField('ciphertext', 'must be base64');
  if (typeof data.wrappedDataKey !== 'string' || !BASE64.test(data.wrappedDataKey)) {
    throw invalidField('wrappedDataKey', 'must be base64');
  }
  if (typeof data.last4 !== 'string' || data.last4.length !== 4)
    throw invalidField('last4', 'must be 4 characters');
  return { ciphertext: data.ciphertext, wrappedDataKey: data.wrappedDataKey, last4: data.last4 };
};

const requireSettings = (value: unknown): Record<string, string> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidField('settings', 'must be an object');
  const settings: Record<string, string> = {};
  for (const [name, setting] of Object.entries(value)) {
    if (!(PROVIDER_SETTING_NAMES as readonly string[]).includes(name)) {
      throw invalidField(`settings.${name}`, `is not one of ${PROVIDER_SETTING_NAMES.join(', ')}`);
    }
    if (typeof setting !== 'string' || setting.trim() === '' || setting.length > 2048) {
      throw invalidField(`settings.${name}`, 'must be a non-empty string');
    }
    if ((name === 'baseUrl' || name === 'endpoint') && !/^https?:\/\/[^\s]+$/.test(setting)) {
      throw invalidField(`settings.${name}`, 'must be an http(s) URL');
    }
    settings[name] = setting.trim();
  }
  return settings;
};

const sameSettings = (a: Record<string, string>, b: Record<string, string>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

const notFound = (credentialId: string): DomainError =>
  new DomainError('PROVIDER_NOT_FOUND', `provider credential ${credentialId} not found`, { credentialId });

const requireCredential = (
  state: ProviderCredentialState,
  credentialId: string,
): ExistingProviderCredential => {
  if (!state.exists || state.removed) throw notFound(credentialId);
  return state;
};

const rotated = (
  credential: ExistingProviderCredential,
  secret: EncryptedSecret,
  settings: Record<string, string> | undefined,
): ProviderCredentialEvent => {
  const data: ProviderCredentialRotatedData = { credentialId: credential.credentialId, ...secret };
  if (settings !== undefined && !sameSettings(settings, credential.settings)) data.settings = settings;
  return { type: 'ProviderCredentialRotated', data };
};

export const decide = (
  command: ProviderCredentialCommand,
  state: ProviderCredentialState,
  ctx: ProviderCredentialContext,
): ProviderCredentialEvent[] => {
  switch (command.type) {
    case 'AddProviderCredential': {
      const { credentialId, name, type } = command.data;
      if (state.exists) {
        throw new DomainError(
          'PROVIDER_ALREADY_EXISTS',
          `provider credential ${credentialId} already exists`,
          { credentialId },
        );
      }
      if (typeof credentialId !== 'string' || !hasPrefix(credentialId, 'prv')) {
        throw invalidField('credentialId', 'must be a prv_… id');
      }
      if (typeof name !== 'string' || !NAME.test(name)) {
        throw invalidField(
          'name',
          'must be 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit',
        );
      }
      if (!PROVIDER_TYPES.includes(type))
        throw invalidField('type', `must be one of ${PROVIDER_TYPES.join(', ')}`);
      const secret = requireSecret(command.data);
      const settings = requireSettings(command.data.settings ?? {});
      if (ctx.credentialNameTaken(name)) {
        throw new DomainError(
          'PROVIDER_ALREADY_EXISTS',
          `a provider credential named "${name}" already exists`,
          { name },
        );
      }
      return [{ type: 'ProviderCredentialAdded', data: { credentialId, name, type, ...secret, settings } }];
    }
    case 'RotateProviderCredential': {
      const credential = requireCredential(state, command.data.credentialId);
      const settings =
        command.data.settings === undefined ? undefined : requireSettings(command.data.settings);
      return [rotated(credential, requireSecret(command.data), settings)];
    }
    case 'UpdateProviderCredential': {
      // The contract has no "settings changed" event, so this re-emits ProviderCredentialRotated with the
      // unchanged ciphertext and the new settings. Consumers can tell it apart (same ciphertext), but the audit
      // trail calls it a rotation: see the closing note about a ProviderCredentialUpdated event.
      const credential = requireCredential(state, command.data.credentialId);
      const settings = requireSettings(command.data.settings);
      if (sameSettings(settings, credential.settings)) return [];
      // A credential stays bound to its host: where the secret goes changes only together with the secret.
      const moved = URL_SETTINGS.find((name) => settings[name] !== credential.settings[name]);
      if (moved)
        throw new DomainError(
          'PROVIDER_SECRET_REQUIRED',
          `settings.${moved} can only change with the secret: use POST /v1/providers/${credential.credentialId}/rotate`,
          { credentialId: credential.credentialId, field: `settings.${moved}` },
        );
      const { ciphertext, wrappedDataKey, last4 } = credential;
      return [rotated(credential, { ciphertext, wrappedDataKey, last4 }, settings)];
    }
    case 'RemoveProviderCredential': {
      const credential = requireCredential(state, command.data.credentialId);
      // Removing a credential a route still uses would turn that route into upstream failures.
      if (ctx.credentialInUse(credential.name)) {
        throw new DomainError(
          'PROVIDER_IN_USE',
          `provider credential "${credential.name}" is used in routes.yaml`,
          {
            credentialId: credential.credentialId,
            name: credential.name,
          },
        );
      }
      return [{ type: 'ProviderCredentialRemoved', data: { credentialId: credential.credentialId } }];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled provider credential command ${(unhandled as { type: string }).type}`);
    }
  }
};

export const providerCredentialDecider = { initialState, evolve, decide };
