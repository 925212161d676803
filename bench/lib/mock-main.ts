// The mock provider as its own process for the benches (the CLI in libs/testing records every request, which
// a benchmark does not want): node dist/bench/lib/mock-main.js <port>. Its latency is set at run time through
// POST /__mock/config, so every target is measured against the same process.
import { startMockProvider } from '@keygate/testing/mock-provider/mock-provider';

startMockProvider({ port: Number(process.argv[2] ?? 0), maxRecorded: 0 })
  .then((mock) => {
    process.stdout.write(`mock provider at ${mock.url}\n`);
    const stop = () => void mock.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  })
  .catch((e: unknown) => {
    process.stderr.write(`mock provider failed: ${String(e)}\n`);
    process.exit(1);
  });
