// npm run console:openapi — regenerates the console's API client types (apps/console/src/api/*-service.ts, with
// enum values as arrays) from the OpenAPI documents of the built services, and keeps those documents beside them
// (*.openapi.json) so a change of contract shows in review. With KEY_SERVICE_URL and USAGE_SERVICE_URL set it reads those running
// services; otherwise it starts the built services like the e2e tests do (needs `npm run build` first).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockProvider } from '../libs/testing/src/mock-provider/mock-provider';
import { ROOT, startTestStack, stopTestStack, type TestStack } from '../libs/testing/src/stack/test-stack';

const OUT = join(ROOT, 'apps', 'console', 'src', 'api');

// Terminus documents /health/ready's details as a map of { status } whose enum arrays openapi-typescript cannot type
// (they do not compile); the console never reads health, so those arrays are left out.
export const dropHealthEnumValues = (file: string): void =>
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(
      /export const pathsHealth\w+: ReadonlyArray<[\s\S]*?> = \[[^\]]*\];\n/g,
      '',
    ),
  );

const generate = async (url: string, name: string): Promise<void> => {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const doc = join(OUT, `${name}.openapi.json`);
  writeFileSync(doc, `${JSON.stringify(await res.json(), null, 2)}\n`);
  const bin = (tool: string) => join(ROOT, 'node_modules', '.bin', tool);
  execFileSync(bin('openapi-typescript'), [doc, '--enum-values', '-o', join(OUT, `${name}.ts`)], {
    stdio: 'inherit',
  });
  dropHealthEnumValues(join(OUT, `${name}.ts`));
  execFileSync(bin('prettier'), ['--write', doc, join(OUT, `${name}.ts`)], { stdio: 'inherit' });
};

const main = async (): Promise<void> => {
  let stack: TestStack | undefined;
  let stopMock: (() => Promise<void>) | undefined;
  let keys = process.env.KEY_SERVICE_URL;
  let usage = process.env.USAGE_SERVICE_URL;
  if (!keys || !usage) {
    const mock = await startMockProvider({ port: 0 });
    stopMock = () => mock.close();
    stack = await startTestStack(mock.url);
    keys = stack.keyServiceUrl;
    usage = stack.usageServiceUrl;
  }
  try {
    await generate(`${keys}/docs-json`, 'key-service');
    await generate(`${usage}/docs-json`, 'usage-service');
  } finally {
    if (stack) await stopTestStack(stack);
    await stopMock?.();
  }
};

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`console:openapi failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
