// Whether a kafkajs error is, or wraps (retriers, aggregates), one of the broker's error types.
export const hasKafkaErrorType = (e: unknown, types: ReadonlySet<string>, depth = 0): boolean => {
  if (!e || typeof e !== 'object' || depth > 5) return false;
  const err = e as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  if (typeof err.type === 'string' && types.has(err.type)) return true;
  return (
    hasKafkaErrorType(err.cause, types, depth + 1) ||
    hasKafkaErrorType(err.originalError, types, depth + 1) ||
    (Array.isArray(err.errors) && err.errors.some((x) => hasKafkaErrorType(x, types, depth + 1)))
  );
};
