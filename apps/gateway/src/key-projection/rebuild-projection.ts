// `npm run gateway:rebuild-projection [-- --wipe]`: folds keys.events from offset 0 into Redis, up to the
// offsets the topic had when it started, then tells every gateway instance to drop its cache.
// Without --wipe it is a replay (idempotent: documents already at a stream position are skipped), safe on a
// live system. --wipe deletes the projection first (keys answer 401 until their events are re-applied).
import 'reflect-metadata';
import { Redis } from 'ioredis';
import { createKafka } from '@keygate/messaging';
import { loadEnv } from '@keygate/platform';
import { GatewayEnv } from '../gateway.env';
import { KeyProjectionStore } from './key-projection.store';
import { replayProjection } from './projection-replay';

const log = (msg: string) => process.stdout.write(`[rebuild] ${msg}\n`);

export const rebuildProjection = async (
  env: GatewayEnv,
  wipe: boolean,
): Promise<{ events: number; ms: number }> => {
  const started = Date.now();
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 3 });
  const kafka = createKafka('gateway-rebuild', env.KAFKA_BROKERS, (level, msg) => log(`${level}: ${msg}`));
  const store = new KeyProjectionStore(redis);
  if (wipe) log(`wiped ${await store.wipe()} projection documents`);

  const events = await replayProjection(kafka, store);
  await store.markComplete();
  await store.publishChange({ all: true });
  redis.disconnect();
  return { events, ms: Date.now() - started };
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
