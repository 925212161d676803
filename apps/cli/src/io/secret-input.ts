import { read } from 'read';
import { usageError } from '../cli-error';
import type { Io } from './io';

const readAll = async (stream: NodeJS.ReadableStream): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
};

const prompt = async (io: Io, what: string): Promise<string> => {
  const typed = await read({
    prompt: `${what}: `,
    silent: true,
    replace: '',
    input: io.stdin,
    output: process.stderr,
  });
  io.err('\n'); // the Enter was not echoed either
  return typed;
};

// A secret (admin token, provider API key) never comes from argv, where it would land in shell history and `ps`:
// a hidden prompt on a terminal, otherwise the whole of stdin (`pass show openai | keygate providers add …`).
export const readSecret = async (io: Io, what: string): Promise<string> => {
  const value = io.stdin.isTTY ? await prompt(io, what) : (await readAll(io.stdin)).replace(/\r?\n$/, '');
  if (!value) throw usageError(`no ${what} given (type it at the prompt or pipe it on stdin)`);
  if (/\s/.test(value)) throw usageError(`the ${what} must not contain whitespace`);
  return value;
};
