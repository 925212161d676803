import { jsonDepthExceeds, jsonTextProblem } from './json-depth';

describe('jsonDepthExceeds', () => {
  const nested = (levels: number): unknown => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);

  it('counts objects and arrays, not scalars', () => {
    expect(jsonDepthExceeds('x', 0)).toBe(false);
    expect(jsonDepthExceeds({ a: 1 }, 1)).toBe(false);
    expect(jsonDepthExceeds({ a: { b: [1] } }, 2)).toBe(true);
    expect(jsonDepthExceeds({ a: { b: [1] } }, 3)).toBe(false);
  });

  it('handles nesting far deeper than the call stack without overflowing', () => {
    expect(jsonDepthExceeds(nested(200_000), 32)).toBe(true);
    expect(jsonDepthExceeds(nested(32), 32)).toBe(false);
  });
});

describe('jsonTextProblem', () => {
  it('finds what jsonb cannot hold, in keys and values at any depth', () => {
    expect(jsonTextProblem({ a: ['x', { b: 'y' }] })).toBeNull();
    expect(jsonTextProblem({ a: ['x', { b: 'y\u0000' }] })).toBe('a NUL character (\\u0000)');
    expect(jsonTextProblem({ 'k\u0000': 1 })).toMatch(/NUL/);
    expect(jsonTextProblem('\u0000')).toMatch(/NUL/);
    expect(jsonTextProblem(42)).toBeNull();
    for (const lone of ['\ud800', 'a\udbffb', '\udc00', 'x\udfff', '\udc00\ud800'])
      expect(jsonTextProblem({ deep: [{ v: lone }] })).toBe('an unpaired UTF-16 surrogate');
    expect(jsonTextProblem({ ['\ud800']: 'key' })).toBe('an unpaired UTF-16 surrogate');
    expect(jsonTextProblem({ pair: '\ud83d\udd11 🔑' })).toBeNull();
  });
});
