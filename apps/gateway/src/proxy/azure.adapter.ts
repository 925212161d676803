// Azure OpenAI: OpenAI's bodies and frames (see openai.adapter.ts), addressed by deployment and api-version,
// authenticated with `api-key`. The forced include_usage needs api-version 2024-09-01-preview or later.
import {
  clientWantsUsage,
  jsonHeaders,
  parseBaseUrl,
  pathSegment,
  streamRequested,
  type ProviderAdapter,
} from './upstream-adapter';
import {
  fromOpenAiJson,
  openAiEndpointPath,
  openAiUpstreamBody,
  OpenAiStreamTranslator,
} from './openai.adapter';
import { targetMisconfigured } from './upstream-error';

export const azureAdapter: ProviderAdapter = {
  passThrough: true,
  prepare(c) {
    const deployment = pathSegment(c.target.deployment, 'deployment');
    if (!c.provider.apiVersion) throw targetMisconfigured('no apiVersion');
    const { origin, prefix } = parseBaseUrl(c.provider.baseUrl);
    const stream = c.endpoint === 'chat' && streamRequested(c.body);
    return {
      origin,
      path: `${prefix}/openai/deployments/${deployment}${openAiEndpointPath(c.endpoint)}?api-version=${encodeURIComponent(c.provider.apiVersion)}`,
      headers: { ...jsonHeaders(stream), 'api-key': c.credential },
      // The deployment names the model; the client's `model` is dropped rather than sent for Azure to ignore.
      body: JSON.stringify(openAiUpstreamBody(c.body, c.endpoint, undefined)),
      stream,
    };
  },
  fromJson: (_c, payload) => fromOpenAiJson(payload),
  streamTranslator: (c) =>
    new OpenAiStreamTranslator(clientWantsUsage(c.body), c.provider.type, c.credential),
};
