import type { Readable } from 'node:stream';

// The process's streams and environment, passed in so the program runs the same in a test as from a shell.
export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdin: Readable & { isTTY?: boolean };
  stdoutIsTTY: boolean;
  env: Record<string, string | undefined>;
  cwd: string;
}

export const processIo = (): Io => ({
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stdin: process.stdin,
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  env: process.env,
  cwd: process.cwd(),
});
