import { jsonDepthExceeds, jsonHasNul } from './json-depth';

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

describe('jsonHasNul', () => {
  it('finds a NUL character in any string or key, at any depth', () => {
    expect(jsonHasNul({ a: ['x', { b: 'y' }] })).toBe(false);
    expect(jsonHasNul({ a: ['x', { b: 'y\u0000' }] })).toBe(true);
    expect(jsonHasNul({ 'k\u0000': 1 })).toBe(true);
    expect(jsonHasNul('\u0000')).toBe(true);
    expect(jsonHasNul(42)).toBe(false);
  });
});
