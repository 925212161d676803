import { execFile } from 'node:child_process';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';

export type InfraLog = (msg: string) => void;

export interface WaitForOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Human-readable subject for the timeout message, e.g. "Kafka at 127.0.0.1:9092". */
  what: string;
  /** Checked before each attempt; a returned reason stops the wait at once (e.g. the process died). */
  abort?: () => string | undefined;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    // AggregateError (e.g. ECONNREFUSED on both ::1 and 127.0.0.1) carries the useful part in .errors.
    const nested = (err as { errors?: unknown[] }).errors;
    if (!err.message && Array.isArray(nested) && nested.length > 0)
      return nested.map(errorMessage).join('; ');
    return err.message;
  }
  return String(err);
}

/**
 * Polls `fn` until it returns something other than undefined/false; a throw counts as "not yet".
 * The last error is kept so a timeout says why, not just that it waited.
 */
export async function waitFor<T>(fn: () => Promise<T | undefined | false>, opts: WaitForOptions): Promise<T> {
  const interval = opts.intervalMs ?? 500;
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted !== undefined) throw new Error(`Gave up waiting for ${opts.what}: ${aborted}`);
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() + interval > deadline) {
      const why = lastError === undefined ? '' : ` (last error: ${errorMessage(lastError)})`;
      throw new Error(`Timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${opts.what}${why}`);
    }
    await sleep(interval);
  }
}

/** Whether an executable called `name` is on PATH (no shell involved). */
export async function commandExists(name: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    try {
      await fsp.access(join(dir, name), fsConstants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; on failure the error carries the tail of its output. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, cwd: opts.cwd, env: opts.env, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const output = tailLines(`${stdout}\n${stderr}`.trim(), 30);
          const code = (err as { code?: unknown }).code;
          const detail = err.killed
            ? `timed out after ${opts.timeoutMs ?? 60_000}ms`
            : typeof code === 'number'
              ? `exit code ${code}`
              : errorMessage(err).split('\n')[0];
          reject(new Error(`\`${cmd} ${args.join(' ')}\` failed: ${detail}${output ? `\n${output}` : ''}`));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

export function tailLines(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Last `lines` lines of a file, or '' when it does not exist; reads at most the final 64 KiB. */
export async function tailFile(path: string, lines: number): Promise<string> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    return tailLines(buf.toString('utf8').trimEnd(), lines);
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}

/** Whether something accepts TCP connections at host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** URL with any password masked, safe for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '']);

/** Only local services are ever started by us; anything else is someone else's to run. */
export function isLocalHost(host: string): boolean {
  return LOCAL_HOSTS.has(host.toLowerCase());
}
