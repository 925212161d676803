import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import { onCleanup, ROOT, spawnProc, waitReady, type Proc } from './processes';

// The peer: Portkey's open-source AI gateway from npm (@portkey-ai/gateway), started headless (no UI, no log
// stream) and pointed at the mock provider per request with its custom-host header.
// Found in the repository's node_modules (a devDependency) or, while it is not one yet, in BENCH_PORTKEY_DIR.

export interface Peer {
  name: string;
  version: string;
  honoNodeServer: string | null;
  url: string;
  proc: Proc;
  headers(mockUrl: string): Record<string, string>;
}

export const findPortkey = (): string | null => {
  const searchFrom = [ROOT, process.env.BENCH_PORTKEY_DIR].filter((d): d is string => !!d);
  try {
    return dirname(require.resolve('@portkey-ai/gateway/package.json', { paths: searchFrom }));
  } catch {
    return null;
  }
};

const versionOf = (pkgDir: string, name: string): string | null => {
  // The copy Node would load from the package's directory: nested first, then each parent node_modules.
  for (let dir = pkgDir; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return null;
};

export const startPortkey = async (pkgDir: string, logDir: string): Promise<Peer> => {
  const port = await freeTestPort();
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
    version: string;
    bin: string;
  };
  const proc = spawnProc(
    'portkey',
    process.execPath,
    [join(pkgDir, pkg.bin), '--headless', `--port=${port}`],
    {
      env: { NODE_ENV: 'production' },
      cwd: pkgDir,
      logDir,
    },
  );
  onCleanup('portkey', () => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${url}/`, 60_000);
  return {
    name: 'portkey',
    version: pkg.version,
    honoNodeServer: versionOf(pkgDir, '@hono/node-server'),
    url,
    proc,
    headers: (mockUrl) => ({
      authorization: 'Bearer mock-openai',
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${mockUrl}/v1`,
    }),
  };
};
