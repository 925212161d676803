import { GatewayError, openAiErrorBody } from './gateway-error';
import { fromUpstreamStatus, upstreamTimeout } from './upstream-error';

describe('GatewayError: one table from code to status, OpenAI type and message', () => {
  it.each<[ConstructorParameters<typeof GatewayError>[0], number, string]>([
    ['invalid_api_key', 401, 'invalid_request_error'],
    ['key_suspended', 403, 'permission_denied'],
    ['model_not_found', 404, 'invalid_request_error'],
    ['rate_limit_exceeded', 429, 'rate_limit_exceeded'],
    ['budget_exceeded', 429, 'rate_limit_exceeded'],
    ['budget_reserved', 429, 'rate_limit_exceeded'],
    ['auth_unavailable', 503, 'service_unavailable'],
    ['upstream_timeout', 504, 'upstream_error'],
    ['internal_error', 500, 'api_error'],
  ])('%s → %i %s', (code, status, type) => {
    const e = new GatewayError(code);
    expect(e).toMatchObject({ status, type, wireCode: code });
    expect(openAiErrorBody(e)).toEqual({ error: { message: e.message, type, param: null, code } });
  });

  it("keeps the upstream layer's own codes, and passes an upstream 4xx on with its status and code", () => {
    expect(GatewayError.fromUpstream(upstreamTimeout().toResult())).toMatchObject({
      code: 'upstream_timeout',
      status: 504,
    });
    const rejected = fromUpstreamStatus('openai', 400, { error: { code: 'context_length_exceeded' } }, 'sk');
    expect(GatewayError.fromUpstream(rejected.toResult())).toMatchObject({
      code: 'upstream_rejected',
      status: 400,
      type: 'invalid_request_error',
      wireCode: 'context_length_exceeded',
    });
    // An upstream naming one of our codes does not borrow its status.
    const named = fromUpstreamStatus('openai', 422, { error: { code: 'rate_limit_exceeded' } }, 'sk');
    expect(GatewayError.fromUpstream(named.toResult())).toMatchObject({ status: 422, type: 'api_error' });
  });
});
