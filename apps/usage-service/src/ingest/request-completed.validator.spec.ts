import fc from 'fast-check';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { RequestCompletedData } from '@keygate/contracts';
import { requestCompletedProblems } from './request-completed.validator';

const decorated = (data: object): string[] =>
  validateSync(plainToInstance(RequestCompletedData, data)).map((e) => e.property);

const valid: RequestCompletedData = {
  requestId: 'req_1',
  keyId: 'key_1',
  route: 'gpt-4o-mini',
  provider: 'openai-main',
  upstreamModel: 'gpt-4o-mini',
  endpoint: 'chat',
  status: 200,
  outcome: 'success',
  errorCode: null,
  promptTokens: 10,
  completionTokens: 20,
  streamed: false,
  latencyMs: 12,
  clientIp: '203.0.113.1',
  time: '2025-03-10T12:00:00.000Z',
};

// Values that sit on and around every rule's edges.
const oddValue = fc.oneof(
  fc.constantFrom(null, undefined, '', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(129), '😀'.repeat(40)),
  fc.constantFrom(-1, 0, 1, 999, 1000, 1.5, Number.NaN, Infinity, 2 ** 53, '12', true, false, [], {}),
  fc.constantFrom(
    'success',
    'rejected',
    'upstream_error',
    'other',
    '2025-03-10',
    '2025-03-10T12:00:00Z',
    'yesterday',
  ),
  fc.string({ maxLength: 70 }),
  fc.integer({ min: -5, max: 2000 }),
);

describe('the fast RequestCompleted validator', () => {
  it('accepts what the decorators accept', () => {
    expect(requestCompletedProblems(valid)).toEqual([]);
    expect(requestCompletedProblems({ ...valid, keyId: null, route: undefined })).toEqual([]);
  });

  it('agrees with the RequestCompletedData decorators on every property, edge values included', () => {
    const keys = Object.keys(valid) as (keyof RequestCompletedData)[];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), oddValue, { maxKeys: 5 }), (changes) => {
        const data = { ...valid, ...changes };
        expect(requestCompletedProblems(data).sort()).toEqual(decorated(data).sort());
      }),
      { numRuns: 3000 },
    );
  });

  it('reports every property of a non-object as failing, like the decorators', () => {
    expect(requestCompletedProblems(null).length).toBeGreaterThan(5);
    expect(requestCompletedProblems('x')).toEqual(requestCompletedProblems({}));
  });
});
