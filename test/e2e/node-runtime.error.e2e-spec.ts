import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

// An older Node.js on this machine, outside node_modules (npm scripts put the project's Node 24 first on PATH):
// KEYGATE_OLDER_NODE, or the first `node` on PATH that is older than 24.
const olderNode = (): { path: string; version: string } | undefined => {
  const candidates = [
    process.env.KEYGATE_OLDER_NODE,
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir && !dir.includes('node_modules'))
      .map((dir) => join(dir, 'node')),
  ].filter((p): p is string => !!p && existsSync(p));
  for (const path of candidates) {
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    if (Number(/^v(\d+)\./.exec(version)?.[1]) < 24) return { path, version };
  }
  return undefined;
};

describe('a service started on an older Node.js', () => {
  const older = olderNode();
  const itWithOlderNode = older ? it : it.skip;
  if (!older) process.stderr.write('node-runtime e2e: no Node.js older than 24 found on PATH; skipped\n');

  itWithOlderNode.each(['key-service', 'gateway', 'usage-service'])(
    '%s refuses with a message that names the Node.js it needs',
    (app) => {
      const { path, version } = older!;
      const run = spawnSync(path, [join(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
        // Nothing it could reach: it must stop before reading any configuration.
        env: { PATH: process.env.PATH },
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(
        `${app} refused to start: Node.js ${version} is not supported: keygate needs Node.js 24 or newer. ` +
          "Start it through npm (npm run up: the project's own Node.js 24 comes with npm ci) or with the Docker image.\n",
      );
      expect(run.stdout).toBe('');
    },
  );
});
