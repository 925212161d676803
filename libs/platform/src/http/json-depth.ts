// JSON.parse takes any nesting, but what walks the parsed value afterwards recursively (class-transformer in the
// validation pipe, JSON.stringify on the way upstream) overflows the stack on a few thousand levels and answers
// 500. Bodies are refused before that: iteratively, so the check itself cannot overflow.
export const jsonDepthExceeds = (value: unknown, maxDepth: number): boolean => {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [v, depth] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) pending.push([child, depth + 1]);
  }
  return false;
};

// PostgreSQL stores no NUL character in text or jsonb, and jsonb refuses an unpaired UTF-16 surrogate ("\ud800"):
// either fails the statement, a 500 after validation passed. No management field has a use for one: such input is
// refused up front, keys and values alike.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const textProblem = (s: string): string | null =>
  s.includes('\u0000')
    ? 'a NUL character (\\u0000)'
    : LONE_SURROGATE.test(s)
      ? 'an unpaired UTF-16 surrogate'
      : null;

export const jsonTextProblem = (value: unknown): string | null => {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return problem;
    } else if (Array.isArray(v)) {
      pending.push(...v);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const problem = textProblem(k);
        if (problem) return problem;
        pending.push(child);
      }
    }
  }
  return null;
};

// No management body is more than a few levels deep; a deeper one is hostile or broken.
export const MAX_MANAGEMENT_DEPTH = 32;

// What the management API refuses in any body or message before validation, REST and gRPC alike.
export const managementInputProblem = (value: unknown): string | null => {
  if (jsonDepthExceeds(value, MAX_MANAGEMENT_DEPTH))
    return `the request is nested more than ${MAX_MANAGEMENT_DEPTH} levels deep`;
  const text = jsonTextProblem(value);
  if (text) return `the request contains ${text}, which no field accepts`;
  return null;
};
