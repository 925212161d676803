// `npm run gateway:rebuild-projection [-- --wipe]`: folds keys.events from offset 0 into Redis, up to the
// offsets the topic had when it started, then tells every gateway instance to drop its cache.
// Without --wipe it is a replay (idempotent: documents already at a stream position are skipped), safe on a
// live system. --wipe deletes the projection first (unknown keys answer 503 until the replay is complete).
// It takes the same lock as the gateways' healer and waits for it; the live fold pauses while it runs.
import 'reflect-metadata';
import { createKafka } from '@keygate/messaging';
import { loadEnv } from '@keygate/platform';
import { GatewayEnv } from '../gateway.env';
import { KeyProjectionStore } from './key-projection.store';
import { replayProjection, type ReplayResult } from './projection-replay';
import { createRedis } from '../redis/redis-client';

const log = (msg: string) => process.stdout.write(`[rebuild] ${msg}\n`);
const LOCK_WAIT_MS = 10 * 60_000;

export const rebuildProjection = async (
  env: GatewayEnv,
  wipe: boolean,
): Promise<{ events: number; ms: number }> => {
  const started = Date.now();
  const redis = createRedis(env, { maxRetriesPerRequest: 3 });
  const kafka = createKafka('gateway-rebuild', env.KAFKA_BROKERS, (level, msg) => log(`${level}: ${msg}`));
  const store = new KeyProjectionStore(redis);
  try {
    let result: ReplayResult | null = null;
    while (!(result = await replayProjection(kafka, store, { wipe }))) {
      if (Date.now() - started > LOCK_WAIT_MS)
        throw new Error('another replay held the projection lock for 10 min');
      log('another replay is running; waiting for its lock');
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (wipe) log(`wiped ${result.wiped} projection documents`);
    return { events: result.events, ms: Date.now() - started };
  } finally {
    redis.disconnect();
  }
};

if (require.main === module) {
  rebuildProjection(loadEnv(GatewayEnv), process.argv.includes('--wipe'))
    .then(({ events, ms }) => {
      log(`applied ${events} events in ${(ms / 1000).toFixed(1)} s`);
      process.exit(0);
    })
    .catch((e: unknown) => {
      log(`failed: ${(e as Error).message}`);
      process.exit(1);
    });
}
