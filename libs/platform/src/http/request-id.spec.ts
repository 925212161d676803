import { hasPrefix } from '@keygate/contracts';
import { newRequestId, requestIdFrom } from './request-id';

describe('request ids', () => {
  it('are prefixed, time-ordered ids', () => {
    const a = newRequestId();
    expect(hasPrefix(a, 'req')).toBe(true);
    expect(newRequestId()).not.toBe(a);
  });

  it("keep a client's own short id and replace anything else", () => {
    expect(requestIdFrom('trace-me.1_A')).toBe('trace-me.1_A');
    expect(requestIdFrom('x'.repeat(64))).toBe('x'.repeat(64));
    for (const given of ['x'.repeat(65), 'has space', 'new\nline', '', undefined, ['a', 'b'], 7])
      expect(hasPrefix(requestIdFrom(given), 'req')).toBe(true);
  });
});
