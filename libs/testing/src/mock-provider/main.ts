// CLI entry of the mock provider, started by `npm run up` when no real provider is configured:
//   node dist/libs/testing/src/mock-provider/main.js --port 9100 --latency 0 [--host 127.0.0.1] [--chunk-delay 0]
// Prints one line with the URL once it listens; SIGINT/SIGTERM close it and exit 0.
import { parseArgs } from 'node:util';
import { startMockProvider } from './mock-provider';

function intOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`mock-provider: --${name} must be a non-negative integer, got "${value}"`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      latency: { type: 'string' },
      'chunk-delay': { type: 'string' },
    },
  });
  const mock = await startMockProvider({
    port: intOption('port', values.port, 9100),
    host: values.host ?? '127.0.0.1',
    latencyMs: intOption('latency', values.latency, 0),
    chunkDelayMs: intOption('chunk-delay', values['chunk-delay'], 0),
  });
  console.log(`mock-provider listening on ${mock.url}`);

  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    void mock.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`mock-provider: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
