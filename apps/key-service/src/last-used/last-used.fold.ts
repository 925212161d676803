import { REQUEST_COMPLETED, type EventEnvelope } from '@keygate/contracts';

// The latest instant each key was presented in a batch of usage.requests envelopes. Requests refused before a
// key was known (no keyId) and malformed times are skipped; the store keeps the later of stored and folded, so
// redelivery and out-of-order partitions end in the same state.
export const latestUseByKey = (envelopes: EventEnvelope[]): Map<string, Date> => {
  const latest = new Map<string, Date>();
  for (const e of envelopes) {
    if (e.type !== REQUEST_COMPLETED) continue;
    const data = e.data as { keyId?: unknown; time?: unknown };
    if (typeof data.keyId !== 'string' || !data.keyId.startsWith('key_')) continue;
    const at = typeof data.time === 'string' ? new Date(data.time) : null;
    if (!at || Number.isNaN(at.getTime())) continue;
    const seen = latest.get(data.keyId);
    if (!seen || at > seen) latest.set(data.keyId, at);
  }
  return latest;
};
