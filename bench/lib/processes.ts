import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@keygate/stack';
import { freeTestPort, ROOT } from '@keygate/testing/stack/test-stack';

// Processes the benches start: each in its own process group (so a stop takes its children too), logs in a
// file, ready when a URL answers 200. Every bench registers a cleanup, so Ctrl-C leaves nothing running.

// The repository root, whether this runs from bench/ (ts) or dist/bench/ (built).
export { ROOT };
// <root>/.stack, where `npm run up` keeps the shared broker's jars (a private broker reuses them) and the logs.
export const BENCH_STACK_DIR = join(ROOT, '.stack');

// A positive number from the environment (BENCH_SECONDS=5), or the fallback.
export const envNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

/** Extra node flags from a space-separated variable (BENCH_GATEWAY_NODE_ARGS). */
export const envNodeArgs = (name: string): string[] => (process.env[name] ?? '').split(' ').filter(Boolean);

export interface Proc {
  name: string;
  pid: number;
  logFile: string;
  startedAt: number; // Date.now() at spawn
  /** Resident set size in MiB, from /proc (Linux). */
  rssMiB(): number;
  /** Exit code once it has exited, else null. */
  exitCode(): number | null;
  exited: Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export const rssMiB = (pid: number): number => {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round((Number(kb) / 1024) * 10) / 10 : NaN;
  } catch {
    return NaN;
  }
};

export const spawnProc = (
  name: string,
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; logDir: string },
): Proc => {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, `${name}.log`);
  const startedAt = Date.now();
  const child = spawn(command, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
    detached: true,
  });
  let code: number | null = null;
  const exited = new Promise<void>((r) =>
    child.once('exit', (c, s) => {
      code = c ?? (s ? 128 : 0);
      r();
    }),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (code !== null) return;
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* gone */
    }
    const killer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 15_000);
    await exited;
    clearTimeout(killer);
  };
  return {
    name,
    pid: child.pid!,
    logFile,
    startedAt,
    rssMiB: () => rssMiB(child.pid!),
    exitCode: () => code,
    exited,
    stop,
  };
};

export const waitReady = async (proc: Proc, url: string, timeoutMs = 90_000): Promise<void> => {
  await waitFor(
    async () => {
      if (proc.exitCode() !== null)
        throw new Error(`${proc.name} exited (${proc.exitCode()}); see ${proc.logFile}`);
      return (await fetch(url).catch(() => null))?.ok ?? false;
    },
    {
      timeoutMs,
      // Fine enough to time a start-up to the tenth of a second (bench/scale's gateway start-up figure).
      intervalMs: 50,
      what: `${proc.name} ready at ${url}`,
      abort: () => (proc.exitCode() !== null ? `exited; see ${proc.logFile}` : undefined),
    },
  );
};

// A built keygate service (dist/apps/<app>/src/main.js) as a process, ready when readyUrl answers.
export const startService = async (
  app: 'key-service' | 'gateway' | 'usage-service',
  name: string,
  env: Record<string, string>,
  readyUrl: string,
  logDir: string,
  nodeArgs: string[] = [],
  readyTimeoutMs = 90_000,
  // Another build's root (its dist/ is run): an earlier commit's gateway side by side with this one.
  buildRoot = ROOT,
): Promise<Proc> => {
  const proc = spawnProc(
    name,
    process.execPath,
    [...nodeArgs, join(buildRoot, 'dist', 'apps', app, 'src', 'main.js')],
    {
      env,
      logDir,
    },
  );
  try {
    await waitReady(proc, readyUrl, readyTimeoutMs);
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return proc;
};

// Cleanups run once, last registered first, on the normal path and on Ctrl-C / SIGTERM alike.
const cleanups: { what: string; fn: () => Promise<unknown> }[] = [];
export const onCleanup = (what: string, fn: () => Promise<unknown>): void => void cleanups.push({ what, fn });
export const cleanup = async (): Promise<void> => {
  while (cleanups.length) {
    const { what, fn } = cleanups.pop()!;
    await fn().catch((e: unknown) => process.stderr.write(`cleanup (${what}) failed: ${String(e)}\n`));
  }
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping what the bench started…\n`);
    void cleanup().finally(() => process.exit(130));
  });

export const log = (msg: string): void => void process.stdout.write(`[bench] ${msg}\n`);

// The local mock provider (bench/lib/mock-main.ts) on a free port, stopped at cleanup.
export const startMockProvider = async (logDir: string): Promise<{ proc: Proc; url: string }> => {
  const port = await freeTestPort();
  const proc = spawnProc(
    'mock-provider',
    process.execPath,
    [join(ROOT, 'dist', 'bench', 'lib', 'mock-main.js'), String(port)],
    { logDir },
  );
  onCleanup('mock provider', () => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${url}/health`);
  return { proc, url };
};

// The bare proxy (bench/lib/bare-proxy.ts), the floor every ratio is taken to, on a free port; stopped at cleanup.
export const startBareProxy = async (
  logDir: string,
  mockUrl: string,
  redisUrl: string,
): Promise<{ proc: Proc; url: string }> => {
  const port = await freeTestPort();
  const proc = spawnProc(
    'bare-proxy',
    process.execPath,
    [join(ROOT, 'dist', 'bench', 'lib', 'bare-proxy.js'), String(port), mockUrl, redisUrl],
    { logDir },
  );
  onCleanup('bare proxy', () => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${url}/health`);
  return { proc, url };
};
