import { AdminAuthError } from '@keygate/platform';
import { UsageError, type UsageErrorCode, usageErrorMapper, usageErrorStatus } from './usage-errors';

describe('usage-service errors', () => {
  it('map every code to the status the usage API has always answered', () => {
    const expected: Record<UsageErrorCode, number> = {
      VALIDATION_FAILED: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      ALERT_NOT_FOUND: 404,
      WEBHOOK_NOT_FOUND: 404,
      REQUEST_NOT_FOUND: 404,
      HOST_NOT_FOUND: 422,
      ADDRESS_NOT_ALLOWED: 422,
    };
    for (const [code, status] of Object.entries(expected))
      expect(usageErrorStatus(code as UsageErrorCode)).toBe(status);
    // @ts-expect-error an unknown code does not compile
    expect(usageErrorStatus('KEY_NOT_FOUND')).toBeUndefined();
  });

  it('reach the management error filter with their code, status and message', () => {
    expect(usageErrorMapper(new UsageError('WEBHOOK_NOT_FOUND', 'webhook whk_1 not found'))).toEqual({
      code: 'WEBHOOK_NOT_FOUND',
      status: 404,
      message: 'webhook whk_1 not found',
      details: undefined,
    });
    expect(usageErrorMapper(new AdminAuthError('UNAUTHENTICATED', 'x'))).toMatchObject({ status: 401 });
    expect(usageErrorMapper(new Error('x'))).toBeNull();
  });
});
