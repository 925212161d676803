import { eventually } from '@keygate/testing';
import type { FaultStack } from './fault-stack';
import {
  ledgerOf,
  outboxDepth,
  projectedEventCount,
  projectionGaps,
  readModelGaps,
  sql,
  usageApiTotals,
} from './consistency';
import { metric, sleep, type ChatResult } from './load';

// What a fault must never cost, checked once the fault is over: every key event delivered once, every answered
// request in the ledger once.

// Every stream of the event store is in the projection at its last position, the read model agrees, the outbox
// is drained, and the projection applied each event exactly once (redeliveries are counted as skipped). Needs a
// broker and projection group of the stack's own, so the gateway saw exactly this store's events.
export const expectKeyEventsDelivered = async (stack: FaultStack): Promise<void> => {
  await eventually(
    async () => ({ outbox: await outboxDepth(stack.keysDatabaseUrl) }),
    (s) => s.outbox === 0,
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  const gaps = await eventually(
    () => projectionGaps(stack.keysDatabaseUrl, stack.redisUrl),
    (g) => g.length === 0,
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  expect(gaps).toEqual([]);
  expect(await readModelGaps(stack.keysDatabaseUrl)).toEqual([]);
  const events = await projectedEventCount(stack.keysDatabaseUrl);
  const applied = await eventually(
    () => metric(stack.gatewayUrl, 'keygate_projection_events_total', { result: 'applied' }),
    (n) => n >= events,
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  expect(applied).toBe(events);
  // usage-service's key directory folds the same topic.
  const keys = Number(
    (await sql<{ n: string }>(stack.keysDatabaseUrl, `SELECT count(*) AS n FROM api_keys`))[0].n,
  );
  await eventually(
    async () =>
      Number(
        (await sql<{ n: string }>(stack.usageDatabaseUrl, 'SELECT count(*) AS n FROM key_directory'))[0].n,
      ),
    (n) => n === keys,
    { timeoutMs: 30_000, intervalMs: 500 },
  );
};

// The usage ledger holds exactly the requests clients got a 200 for: the same request ids, once each, and the
// aggregates users query add up to the same numbers; late redeliveries would show up after a pause: none.
export const expectLedgerExact = async (
  stack: FaultStack,
  keys: { id: string; key: string }[],
  calls: ChatResult[],
  { timeoutMs = 90_000, intervalMs = 500, recheckAfterMs = 3_000 } = {},
): Promise<void> => {
  for (const k of keys) {
    const mine = calls.filter((c) => c.key === k.key && c.status === 200);
    const ids = mine.map((c) => c.requestId!).sort();
    await eventually(
      async () => ({
        ingested: (await ledgerOf(stack.usageDatabaseUrl, k.id)).requestIds.length,
        sent: ids.length,
      }),
      (l) => l.ingested >= l.sent,
      { timeoutMs, intervalMs },
    );
    expect((await ledgerOf(stack.usageDatabaseUrl, k.id)).requestIds).toEqual(ids);
    expect(await usageApiTotals(stack.usageServiceUrl, stack.adminToken, k.id)).toEqual({
      requests: mine.length,
      errors: 0,
      promptTokens: mine.reduce((s, c) => s + c.promptTokens, 0),
      completionTokens: mine.reduce((s, c) => s + c.completionTokens, 0),
    });
  }
  if (recheckAfterMs === 0) return;
  await sleep(recheckAfterMs);
  for (const k of keys) {
    const n = calls.filter((c) => c.key === k.key && c.status === 200).length;
    expect((await usageApiTotals(stack.usageServiceUrl, stack.adminToken, k.id)).requests).toBe(n);
  }
};
