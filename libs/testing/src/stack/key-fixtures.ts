import { randomBytes } from 'node:crypto';
import { api, eventually } from './api-client';
import type { TestStack } from './test-stack';

export interface CreatedKey {
  id: string;
  key: string;
  groupId: string | null;
  body: Record<string, unknown>;
}

// A key with access to `routes` (through a fresh group), created over the management API, and — unless
// `waitForGateway` is false — already known to the gateway when this resolves.
export const createKey = async (
  stack: TestStack,
  options: { routes?: string[]; waitForGateway?: boolean; key?: Record<string, unknown> } = {},
): Promise<CreatedKey> => {
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  let groupId: string | null = null;
  if (options.routes?.length) {
    const group = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `g-${randomBytes(6).toString('hex')}`,
      routes: options.routes,
    });
    if (group.status !== 201) throw new Error(`group create failed: ${JSON.stringify(group.body)}`);
    groupId = group.body.id;
  }
  const created = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
    name: `k-${randomBytes(4).toString('hex')}`,
    ownerId: 'team-test',
    ...(groupId ? { groupIds: [groupId] } : {}),
    ...options.key,
  });
  if (created.status !== 201) throw new Error(`key create failed: ${JSON.stringify(created.body)}`);
  if (options.waitForGateway !== false) await waitForGateway(stack.gatewayUrl, created.body.key);
  return { id: created.body.id, key: created.body.key, groupId, body: created.body };
};

// Polls GET /v1/models until the gateway knows the key (it arrives via outbox → Kafka → Redis).
export const waitForGateway = async (gatewayUrl: string, key: string, timeoutMs = 20_000): Promise<void> => {
  await eventually(
    () =>
      fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status),
    (s) => s !== 401 && s !== 503,
    { timeoutMs, intervalMs: 50 },
  );
};

export const chat = (
  gatewayUrl: string,
  key: string | null,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

export const mockRequestCount = async (mockUrl: string): Promise<number> => {
  const res = await fetch(`${mockUrl}/__mock/requests`);
  return ((await res.json()) as { data: unknown[] }).data.length;
};
