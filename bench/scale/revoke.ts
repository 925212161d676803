import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { api } from '@keygate/testing/stack/api-client';
import type { Keygate } from '../lib/keygate';
import { quantile, round } from '../lib/load';
import { log } from '../lib/processes';

// Revoke-to-first-401 across gateway instances: for each key, every instance has it cached (a request through
// each one just before), then the revocation goes through the management API and each instance is polled in a
// tight loop (one request in flight per instance, keep-alive) until it answers 401. The figure per revocation is
// the time from sending the revoke call until the last instance refused the key.

export interface RevokeStats {
  revocations: number;
  instances: number;
  // ms from sending POST /v1/keys/:id/revoke until every instance answered 401
  allInstancesMs: { p50: number; p99: number; max: number };
  perInstanceMs: { p50: number; p99: number; max: number }[];
  revokeCallMs: { p50: number; p99: number; max: number }; // the REST call itself (commit)
  pollsPerRevocation: number; // mean requests each instance answered while we waited
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: round(quantile(s, 0.5), 1),
    p99: round(quantile(s, 0.99), 1),
    max: round(s[s.length - 1], 1),
  };
};

export const measureRevocations = async (keygate: Keygate, count: number): Promise<RevokeStats> => {
  const admin = api(keygate.keyServiceUrl, keygate.adminToken);
  const groupId = await keygate.createGroup(['gpt-4o-mini']);
  log(`revoke: creating ${count} keys`);
  const keys: { id: string; key: string }[] = [];
  for (let i = 0; i < count; i++) keys.push(await keygate.createKey({ groupIds: [groupId] }, []));
  const pools = keygate.gatewayUrls.map((url) => new Pool(url, { connections: 2, keepAliveTimeout: 60_000 }));
  const status = async (pool: Pool, key: string): Promise<number> => {
    const res = await pool.request({
      method: 'GET',
      path: '/v1/models',
      headers: { authorization: `Bearer ${key}` },
    });
    await res.body.dump();
    return res.statusCode;
  };
  const all: number[] = [];
  const perInstance: number[][] = pools.map(() => []);
  const calls: number[] = [];
  let polls = 0;
  try {
    for (const [i, k] of keys.entries()) {
      // Known and cached on every instance (the projection may still be on its way for the newest keys).
      for (const [j, pool] of pools.entries()) {
        const deadline = Date.now() + 30_000;
        while ((await status(pool, k.key)) !== 200)
          if (Date.now() > deadline) throw new Error(`key ${k.id} never reached ${keygate.gatewayUrls[j]}`);
      }
      const t0 = performance.now();
      const revoked = admin('POST', `/v1/keys/${k.id}/revoke`, { reason: 'bench' }).then((r) => {
        calls.push(performance.now() - t0);
        if (r.status !== 200) throw new Error(`revoke ${k.id}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      });
      const refused = await Promise.all(
        pools.map(async (pool) => {
          const deadline = Date.now() + 30_000;
          for (;;) {
            polls++;
            const s = await status(pool, k.key);
            if (s === 401) return performance.now() - t0;
            if (s !== 200) throw new Error(`unexpected HTTP ${s} while polling ${k.id}`);
            if (Date.now() > deadline)
              throw new Error(`key ${k.id} still accepted 30 s after its revocation`);
          }
        }),
      );
      await revoked;
      refused.forEach((ms, j) => perInstance[j].push(ms));
      all.push(Math.max(...refused));
      if ((i + 1) % 50 === 0) log(`revoke: ${i + 1}/${count}, last ${round(all[all.length - 1], 1)} ms`);
    }
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
  return {
    revocations: all.length,
    instances: pools.length,
    allInstancesMs: summary(all),
    perInstanceMs: perInstance.map(summary),
    revokeCallMs: summary(calls),
    pollsPerRevocation: Math.round(polls / Math.max(1, all.length * pools.length)),
  };
};
