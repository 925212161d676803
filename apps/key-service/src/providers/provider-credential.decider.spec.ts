import { deciderSpec } from '../api-keys/decider-spec.helper';
import {
  evolve,
  initialState,
  isProviderCredentialEvent,
  providerCredentialDecider,
  type ProviderCredentialCommand,
  type ProviderCredentialContext,
  type ProviderCredentialEvent,
} from './provider-credential.decider';

const CREDENTIAL_ID = `prv_${'D'.repeat(22)}`;
const SECRET = { ciphertext: 'c2VjcmV0LWNpcGhlcg==', wrappedDataKey: 'd3JhcHBlZA==', last4: 'k9Zq' };
const NEW_SECRET = { ciphertext: 'bmV3LWNpcGhlcg==', wrappedDataKey: 'bmV3LXdyYXA=', last4: 'p0Lm' };

const context = (): ProviderCredentialContext => ({
  now: new Date('2030-01-01T00:00:00.000Z'),
  credentialNameTaken: (name) => name === 'taken',
  credentialInUse: () => false,
});
const spec = deciderSpec(providerCredentialDecider, context);

type AddData = Extract<ProviderCredentialCommand, { type: 'AddProviderCredential' }>['data'];
const add = (data: Partial<AddData> = {}): ProviderCredentialCommand => ({
  type: 'AddProviderCredential',
  data: { credentialId: CREDENTIAL_ID, name: 'openai-prod', type: 'openai', ...SECRET, ...data },
});
const added: ProviderCredentialEvent = {
  type: 'ProviderCredentialAdded',
  data: { credentialId: CREDENTIAL_ID, name: 'openai-prod', type: 'openai', ...SECRET, settings: {} },
};
const addedWithSettings: ProviderCredentialEvent = {
  ...added,
  data: { ...added.data, settings: { organization: 'org-1' } },
} as ProviderCredentialEvent;
const removed: ProviderCredentialEvent = {
  type: 'ProviderCredentialRemoved',
  data: { credentialId: CREDENTIAL_ID },
};

const rotate = (settings?: Record<string, string>): ProviderCredentialCommand => ({
  type: 'RotateProviderCredential',
  data: { credentialId: CREDENTIAL_ID, ...NEW_SECRET, ...(settings && { settings }) },
});
const updateSettings = (settings: Record<string, string>): ProviderCredentialCommand => ({
  type: 'UpdateProviderCredential',
  data: { credentialId: CREDENTIAL_ID, settings },
});
const remove: ProviderCredentialCommand = {
  type: 'RemoveProviderCredential',
  data: { credentialId: CREDENTIAL_ID },
};

describe('provider credential decider', () => {
  describe('AddProviderCredential', () => {
    it('adds an encrypted credential with its settings', () => {
      spec.given([]).when(add()).then([added]);
      spec
        .given([])
        .when(
          add({
            type: 'azure',
            name: 'azure-eu',
            settings: { endpoint: 'https://x.openai.azure.com', apiVersion: '2024-10-21' },
          }),
        )
        .then([
          {
            type: 'ProviderCredentialAdded',
            data: {
              ...added.data,
              type: 'azure',
              name: 'azure-eu',
              settings: { endpoint: 'https://x.openai.azure.com', apiVersion: '2024-10-21' },
            },
          },
        ]);
    });

    it('refuses an existing id (removed included) and a name another credential uses', () => {
      spec.given([added]).when(add()).thenThrows('PROVIDER_ALREADY_EXISTS');
      spec.given([added, removed]).when(add()).thenThrows('PROVIDER_ALREADY_EXISTS');
      spec
        .given([])
        .when(add({ name: 'taken' }))
        .thenThrows('PROVIDER_ALREADY_EXISTS', { name: 'taken' });
    });

    it.each<[string, Partial<AddData>]>([
      ['an unknown provider type', { type: 'anthropic' as never }],
      ['a name routes.yaml would read as env:', { name: 'env:OPENAI_API_KEY' }],
      ['a clear secret where the ciphertext belongs', { ciphertext: 'sk-proj-abcdefghijklmnop' }],
      ['a non-base64 wrapped key', { wrappedDataKey: 'not base64!' }],
      ['an unknown setting', { settings: { apiKey: 'x' } }],
      ['a non-URL endpoint', { settings: { endpoint: 'x.openai.azure.com' } }],
      ['a malformed id', { credentialId: 'openai' }],
      ['a bad last4', { last4: '' }],
    ])('refuses %s with VALIDATION_FAILED', (_label, data) => {
      spec.given([]).when(add(data)).thenThrows('VALIDATION_FAILED');
    });
  });

  describe('RotateProviderCredential', () => {
    it('replaces the ciphertext, settings untouched when not given', () => {
      spec
        .given([added])
        .when(rotate())
        .then([{ type: 'ProviderCredentialRotated', data: { credentialId: CREDENTIAL_ID, ...NEW_SECRET } }]);
    });

    it('carries new settings when they differ, and omits them when equal', () => {
      spec
        .given([added])
        .when(rotate({ baseUrl: 'http://127.0.0.1:4010/v1' }))
        .then([
          {
            type: 'ProviderCredentialRotated',
            data: {
              credentialId: CREDENTIAL_ID,
              ...NEW_SECRET,
              settings: { baseUrl: 'http://127.0.0.1:4010/v1' },
            },
          },
        ]);
      spec
        .given([addedWithSettings])
        .when(rotate({ organization: 'org-1' }))
        .then([{ type: 'ProviderCredentialRotated', data: { credentialId: CREDENTIAL_ID, ...NEW_SECRET } }]);
    });
  });

  describe('UpdateProviderCredential', () => {
    it('re-emits the current ciphertext with the new settings (no settings-only event in the contract)', () => {
      spec
        .given([addedWithSettings])
        .when(updateSettings({ organization: 'org-2' }))
        .then([
          {
            type: 'ProviderCredentialRotated',
            data: { credentialId: CREDENTIAL_ID, ...SECRET, settings: { organization: 'org-2' } },
          },
        ]);
    });

    it('appends nothing when the settings are the same, and validates them', () => {
      spec
        .given([addedWithSettings])
        .when(updateSettings({ organization: 'org-1' }))
        .thenNothing();
      spec
        .given([added])
        .when(updateSettings({ region: 'eu' }))
        .thenThrows('VALIDATION_FAILED');
    });
  });

  describe('a credential bound to its host', () => {
    const atHost = {
      ...added,
      data: { ...added.data, settings: { baseUrl: 'https://api.openai.com/v1', organization: 'org-1' } },
    } as ProviderCredentialEvent;

    it.each([
      [
        'a new baseUrl',
        { baseUrl: 'https://attacker.example/v1', organization: 'org-1' },
        'settings.baseUrl',
      ],
      ['a removed baseUrl', { organization: 'org-1' }, 'settings.baseUrl'],
      [
        'a new endpoint',
        { baseUrl: 'https://api.openai.com/v1', organization: 'org-1', endpoint: 'https://x.example' },
        'settings.endpoint',
      ],
    ])('refuses %s without the secret', (_name, settings, field) => {
      spec
        .given([atHost])
        .when(updateSettings(settings))
        .thenThrows('PROVIDER_SECRET_REQUIRED', { credentialId: CREDENTIAL_ID, field });
    });

    it('changes other settings, and the URL together with the secret', () => {
      spec
        .given([atHost])
        .when(updateSettings({ baseUrl: 'https://api.openai.com/v1', organization: 'org-2' }))
        .then([
          {
            type: 'ProviderCredentialRotated',
            data: {
              credentialId: CREDENTIAL_ID,
              ...SECRET,
              settings: { baseUrl: 'https://api.openai.com/v1', organization: 'org-2' },
            },
          },
        ]);
      spec
        .given([atHost])
        .when(rotate({ baseUrl: 'https://eu.api.openai.com/v1' }))
        .then([
          {
            type: 'ProviderCredentialRotated',
            data: {
              credentialId: CREDENTIAL_ID,
              ...NEW_SECRET,
              settings: { baseUrl: 'https://eu.api.openai.com/v1' },
            },
          },
        ]);
    });
  });

  describe('RemoveProviderCredential', () => {
    it('removes a credential no route uses', () => {
      spec.given([added]).when(remove).then([removed]);
    });

    it('refuses while routes.yaml names it', () => {
      spec
        .given([added])
        .when(remove, { credentialInUse: (name) => name === 'openai-prod' })
        .thenThrows('PROVIDER_IN_USE', { name: 'openai-prod' });
    });
  });

  describe('invalid transitions', () => {
    const commands = [rotate(), updateSettings({ organization: 'x' }), remove];
    it.each(commands.map((c) => [c.type, c] as const))(
      '%s on a missing credential → PROVIDER_NOT_FOUND',
      (_t, command) =>
        spec.given([]).when(command).thenThrows('PROVIDER_NOT_FOUND', { credentialId: CREDENTIAL_ID }),
    );
    it.each(commands.map((c) => [c.type, c] as const))(
      '%s on a removed credential → PROVIDER_NOT_FOUND',
      (_t, command) => spec.given([added, removed]).when(command).thenThrows('PROVIDER_NOT_FOUND'),
    );
  });

  it('folds events into state with the version as stream position', () => {
    const state = [
      addedWithSettings,
      {
        type: 'ProviderCredentialRotated',
        data: { credentialId: CREDENTIAL_ID, ...NEW_SECRET },
      } as ProviderCredentialEvent,
      removed,
    ].reduce(evolve, initialState());
    expect(state).toMatchObject({
      version: 3,
      ...NEW_SECRET,
      settings: { organization: 'org-1' },
      removed: true,
    });
    expect(isProviderCredentialEvent(removed)).toBe(true);
    expect(isProviderCredentialEvent({ type: 'AdminTokenRevoked', data: { tokenId: 't' } })).toBe(false);
  });
});
