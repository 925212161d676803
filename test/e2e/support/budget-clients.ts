import Decimal from 'decimal.js';
import { api, eventually, type TestStack } from '@keygate/testing';

// Clients of a budgeted key, as a demanding user runs them: streaming or not, with or without max_tokens, each
// calling until the budget is spent. A 429 budget_reserved (Retry-After: 1) means requests in flight hold the rest
// (retry shortly); 429 budget_exceeded, that the budget cannot pay for another request (stop).

export interface BudgetAnswer {
  status: number;
  code: string | null;
  message: string;
  retryAfter: string | null;
  clamped: string | null; // x-keygate-budget-clamped
  finish: string | null;
  completionTokens: number; // from usage (a stream carries none unless the client asked for it)
  text: string;
}

export const budgetCall = async (
  gatewayUrl: string,
  key: string,
  opts: { stream?: boolean; maxTokens?: number; content?: string } = {},
): Promise<BudgetAnswer> => {
  const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: opts.content ?? 'what does this cost' }],
      ...(opts.stream ? { stream: true } : {}),
      ...(opts.maxTokens ? { max_tokens: opts.maxTokens } : {}),
    }),
  });
  const base = {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    clamped: res.headers.get('x-keygate-budget-clamped'),
  };
  if (res.status !== 200) {
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    return { ...base, code: error.code, message: error.message, finish: null, completionTokens: 0, text: '' };
  }
  if (!opts.stream) {
    const json = (await res.json()) as {
      choices: { finish_reason: string; message: { content: string } }[];
      usage: { completion_tokens: number };
    };
    return {
      ...base,
      code: null,
      message: '',
      finish: json.choices[0].finish_reason,
      completionTokens: json.usage.completion_tokens,
      text: json.choices[0].message.content,
    };
  }
  let finish: string | null = null;
  let completionTokens = 0;
  let text = '';
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6)) as {
      choices?: { finish_reason: string | null; delta?: { content?: string } }[];
      usage?: { completion_tokens: number } | null;
    };
    finish = chunk.choices?.[0]?.finish_reason ?? finish;
    text += chunk.choices?.[0]?.delta?.content ?? '';
    if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
  }
  return { ...base, code: null, message: '', finish, completionTokens, text };
};

export interface LoadResult {
  served: number;
  refusals: BudgetAnswer[]; // the final refusal of each client
  retried: number; // 429 budget_reserved (holds in the way), retried
  clamped: number;
  others: BudgetAnswer[]; // anything but 200 and 429 budget_exceeded
}

/**
 * `clients` concurrent clients on `keys` (client i uses keys[i % n] and gateways[i % m]); client i streams when
 * i is odd and sets max_tokens 16 when i % 4 ≥ 2. Each calls until a 429 budget_exceeded.
 */
export const spendUntilRefused = async (
  gateways: string[],
  keys: string[],
  clients: number,
  deadlineMs = 90_000,
): Promise<LoadResult> => {
  const out: LoadResult = { served: 0, refusals: [], retried: 0, clamped: 0, others: [] };
  const until = Date.now() + deadlineMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const opts = { stream: i % 2 === 1, maxTokens: i % 4 >= 2 ? 16 : undefined };
      while (Date.now() < until) {
        const a = await budgetCall(gateways[i % gateways.length], keys[i % keys.length], opts);
        if (a.status === 200) {
          out.served++;
          if (a.clamped) out.clamped++;
        } else if (a.code === 'budget_reserved') {
          expect(a.retryAfter).toBe('1');
          out.retried++;
          await new Promise((r) => setTimeout(r, 20));
        } else if (a.code === 'budget_exceeded') {
          out.refusals.push(a);
          return;
        } else {
          out.others.push(a);
          return;
        }
      }
    }),
  );
  return out;
};

/** The ledger's cost (USD) of `keyIds` today, once it holds at least `requests` requests of theirs. */
export const ledgerCost = async (stack: TestStack, keyIds: string[], requests: number): Promise<Decimal> => {
  const usage = api(stack.usageServiceUrl, stack.adminToken);
  const totals = async () => {
    let n = 0;
    let cost = new Decimal(0);
    for (const id of keyIds) {
      const r = await usage<{ data: { requests: number; costUsd: string }[] }>(
        'GET',
        `/v1/usage/keys/${id}?granularity=day`,
      );
      for (const b of r.body.data ?? []) {
        n += b.requests;
        cost = cost.add(b.costUsd);
      }
    }
    return { n, cost };
  };
  const t = await eventually(totals, (x) => x.n >= requests, { timeoutMs: 60_000, intervalMs: 500 });
  return t.cost;
};
