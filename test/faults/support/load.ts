import { randomBytes } from 'node:crypto';
import { api } from '@keygate/testing';
import type { TestStack } from '@keygate/testing';

// Steady background traffic for fault tests, and a record of every answer it got, so a test can compare what
// clients were told with what the ledger and the projection hold afterwards.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Loop<T> {
  results: T[];
  stop(): Promise<T[]>;
}

// Runs `step` back to back in `concurrency` lanes, pausing `pauseMs` between steps of a lane, until stopped.
export const loop = <T>(step: () => Promise<T>, { concurrency = 1, pauseMs = 0 } = {}): Loop<T> => {
  const results: T[] = [];
  let running = true;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (running) {
      results.push(await step());
      if (pauseMs) await sleep(pauseMs);
    }
  });
  return {
    results,
    stop: async () => {
      running = false;
      await Promise.all(lanes);
      return results;
    },
  };
};

export interface ChatResult {
  at: number; // when the request was sent (ms since epoch)
  ms: number;
  key: string;
  status: number; // 0 = no HTTP answer (connection refused/reset)
  code: string | null;
  message: string | null;
  requestId: string | null;
  promptTokens: number;
  completionTokens: number;
}

export const BODY = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'ping from the fault suite' }],
};

export const chatOnce = async (gatewayUrl: string, key: string, timeoutMs = 10_000): Promise<ChatResult> => {
  const at = Date.now();
  try {
    const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(BODY),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as {
      error?: { code?: string; message?: string };
      usage?: { prompt_tokens?: number; completion_tokens?: number };
    };
    return {
      at,
      ms: Date.now() - at,
      key,
      status: res.status,
      code: json.error?.code ?? null,
      message: json.error?.message ?? null,
      requestId: res.headers.get('x-request-id'),
      promptTokens: json.usage?.prompt_tokens ?? 0,
      completionTokens: json.usage?.completion_tokens ?? 0,
    };
  } catch (e) {
    return {
      at,
      ms: Date.now() - at,
      key,
      status: 0,
      code: (e as Error).name,
      message: (e as Error).message,
      requestId: null,
      promptTokens: 0,
      completionTokens: 0,
    };
  }
};

export interface CreateResult {
  name: string;
  at: number;
  ms: number;
  status: number;
  code: string | null;
  message: string | null;
  id: string | null;
  key: string | null;
}

// POST /v1/keys through the management API (a fresh name each time), recording the answer.
export const createKeyOnce = async (
  stack: TestStack,
  groupId: string,
  timeoutMs = 15_000,
  fields: Record<string, unknown> = {}, // more of the key (rateLimit, budget...)
): Promise<CreateResult> => {
  const at = Date.now();
  const name = `fault-${randomBytes(6).toString('hex')}`;
  try {
    const res = await fetch(`${stack.keyServiceUrl}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name,
        ownerId: 'team-faults',
        groupIds: [groupId],
        ...fields,
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as {
      id?: string;
      key?: string;
      error?: { code?: string; message?: string };
    };
    return {
      name,
      at,
      ms: Date.now() - at,
      status: res.status,
      code: json.error?.code ?? null,
      message: json.error?.message ?? null,
      id: json.id ?? null,
      key: json.key ?? null,
    };
  } catch (e) {
    const code = (e as Error).name;
    return { name, at, ms: Date.now() - at, status: 0, code, message: null, id: null, key: null };
  }
};

export const createGroup = async (stack: TestStack): Promise<string> => {
  const res = await api(stack.keyServiceUrl, stack.adminToken)<{ id: string }>('POST', '/v1/groups', {
    name: `fault-${randomBytes(4).toString('hex')}`,
    routes: ['gpt-4o-mini'],
  });
  if (res.status !== 201) throw new Error(`group create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
};

// One sample of a Prometheus counter from GET /metrics, summed over series whose labels include `labels`.
export const metric = async (
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> => {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
};

export const countBy = <T>(items: T[], key: (t: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
};

export const log = (m: string): void => void process.stdout.write(`[faults] ${m}\n`);
