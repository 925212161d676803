import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { API_KEY_SCAN_PATTERN } from '@keygate/contracts';
import { usageError } from '../cli-error';
import type { Io } from '../io/io';
import { print, renderTable } from '../io/output';
import { withContext } from './context';

interface Finding {
  index: number;
  outcome: 'revoked' | 'already_revoked' | 'left_active' | 'unknown';
  keyId?: string;
  maskedKey?: string;
}

interface LeakReport {
  revoked: number;
  alreadyRevoked: number;
  leftActive: number;
  unknown: number;
  results: Finding[];
}

const readAll = async (stream: NodeJS.ReadableStream): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
};

// Every kg_live_/kg_test_-shaped string in a text (a paste, a log, a file from a repository), each once.
export const keyCandidates = (text: string): string[] => [
  ...new Set(text.match(new RegExp(`\\b${API_KEY_SCAN_PATTERN}\\b`, 'g')) ?? []),
];

// The answer never shows a reported string again: ours by id and masked key, the rest only as a count.
const render = (r: LeakReport): string =>
  renderTable<Finding>(
    [
      ['KEY', (f) => f.keyId],
      ['MASKED', (f) => f.maskedKey],
      ['OUTCOME', (f) => f.outcome],
    ],
    r.results.filter((f) => f.outcome !== 'unknown'),
  ) +
  `${r.revoked} revoked, ${r.alreadyRevoked} already revoked, ${r.leftActive} left active, ${r.unknown} not ours\n`;

export const registerKeyLeaks = (keys: Command, io: Io): void => {
  keys
    .command('leaked')
    .description('report leaked keys: every kg_ key in FILE (or stdin) that is ours is revoked at once')
    .argument('[file]', 'text to search for keys; - or absent: stdin')
    .requiredOption('--source <where>', 'where they were found, kept in each revocation (e.g. a paste URL)')
    .action(
      withContext<{ source: string }>(io, async (ctx, [file], o) => {
        const text = !file || file === '-' ? await readAll(ctx.io.stdin) : await readFile(file, 'utf8');
        const keys = keyCandidates(text);
        if (keys.length === 0) throw usageError('no kg_live_/kg_test_ key found in the input');
        const res = await ctx
          .keyService()
          .request<LeakReport>('POST', '/v1/keys/leaked', { body: { keys, source: o.source } });
        print(ctx.io, ctx.json, res.body, () => render(res.body));
      }),
    );
};
