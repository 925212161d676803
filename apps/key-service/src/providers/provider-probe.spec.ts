import type { RoutesConfig } from '@keygate/platform';
import { probeTarget, scrub } from './provider-probe';

const routes: RoutesConfig = {
  providers: {
    'azure-eu': {
      name: 'azure-eu',
      type: 'azure',
      baseUrl: 'https://eu.openai.azure.com',
      apiVersion: '2024-06-01',
      credential: 'azure-prod',
    },
    'openai-main': {
      name: 'openai-main',
      type: 'openai',
      baseUrl: 'https://proxy.example/v1',
      credential: 'openai-prod',
    },
  },
  routes: {
    'gpt-4o': {
      name: 'gpt-4o',
      timeoutMs: 1000,
      maxOutputTokens: 4096,
      targets: [{ provider: 'azure-eu', deployment: 'gpt-4o-eu' }],
    },
  },
  pricing: {},
  tiers: {},
};

describe('probeTarget', () => {
  it('calls OpenAI GET {baseUrl}/models with a bearer token, settings first', () => {
    expect(probeTarget({ name: 'x', type: 'openai', settings: {} }, 'sk-1', routes)).toEqual({
      url: 'https://api.openai.com/v1/models',
      method: 'GET',
      headers: { authorization: 'Bearer sk-1' },
    });
    expect(probeTarget({ name: 'openai-prod', type: 'openai', settings: {} }, 'sk-1', routes)).toMatchObject({
      url: 'https://proxy.example/v1/models',
    });
    expect(
      probeTarget(
        {
          name: 'openai-prod',
          type: 'openai',
          settings: { baseUrl: 'http://mock/v1/', organization: 'org-1' },
        },
        'sk-1',
        routes,
      ),
    ).toMatchObject({ url: 'http://mock/v1/models', headers: { 'openai-organization': 'org-1' } });
  });

  it('calls Gemini GET {baseUrl}/v1beta/models with x-goog-api-key', () => {
    expect(probeTarget({ name: 'g', type: 'gemini', settings: {} }, 'AIza1', routes)).toEqual({
      url: 'https://generativelanguage.googleapis.com/v1beta/models',
      method: 'GET',
      headers: { 'x-goog-api-key': 'AIza1' },
    });
    expect(
      probeTarget({ name: 'g', type: 'gemini', settings: { baseUrl: 'http://mock/v1beta' } }, 'k', routes),
    ).toMatchObject({ url: 'http://mock/v1beta/models' });
  });

  it('calls an Azure deployment with api-key, from settings or from routes.yaml', () => {
    const fromRoutes = probeTarget({ name: 'azure-prod', type: 'azure', settings: {} }, 'az', routes);
    expect(fromRoutes).toMatchObject({
      url: 'https://eu.openai.azure.com/openai/deployments/gpt-4o-eu/chat/completions?api-version=2024-06-01',
      method: 'POST',
      headers: { 'api-key': 'az' },
    });
    const own = probeTarget(
      { name: 'other', type: 'azure', settings: { endpoint: 'http://mock', deployment: 'd 1' } },
      'az',
      routes,
    );
    expect(own).toMatchObject({
      url: 'http://mock/openai/deployments/d%201/chat/completions?api-version=2024-10-21',
    });
    expect(probeTarget({ name: 'other', type: 'azure', settings: {} }, 'az', routes)).toMatch(/endpoint/);
  });
});

describe('scrub', () => {
  const secret = 'sk-proj-abcdefghijklmnop1234';

  it('removes the secret and long pieces of it', () => {
    expect(scrub(`bad key ${secret}!`, secret)).toBe('bad key ***!');
    expect(scrub('provided: sk-proj-abcd****1234', secret)).toBe('provided: *******1234');
    expect(scrub('key ends in efghijklmnop', secret)).toBe('key ends in ***');
    expect(scrub('nothing to see', secret)).toBe('nothing to see');
  });
});
