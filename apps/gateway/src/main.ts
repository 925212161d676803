import cluster from 'node:cluster';
import { refuseUnsupportedNode } from '@keygate/platform/http/node-runtime';
refuseUnsupportedNode('gateway');

import { gatewayWorkers, runPrimary } from './workers';

// One gateway process, or (GATEWAY_WORKERS > 1) a primary that runs that many on one port (workers.ts). The
// gateway itself is serve.ts, imported only where it runs, so telemetry starts before the modules it patches.
try {
  const workers = gatewayWorkers(process.env);
  if (workers > 1 && cluster.isPrimary) runPrimary(workers);
  else void import('./serve.js');
} catch (e) {
  process.stderr.write(`gateway failed to start: ${(e as Error).message}\n`);
  process.exit(1);
}
