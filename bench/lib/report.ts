import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './processes';

// What the figures were measured on, and where they go: a JSON file per run in bench/results/ and a markdown
// table between markers in bench/README.md (the newest run replaces the previous one there).

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  commit: string | null;
  dirty: boolean;
}

const git = (...args: string[]): string | null => {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
};

export const machine = (): Machine => {
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    /* not Linux */
  }
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel,
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: (git('status', '--porcelain', '--untracked-files=no') ?? '') !== '',
  };
};

// `uptime`'s load averages: on a shared machine they say how much the figures can be trusted.
export const load = (): { at: string; loadavg: number[] } => ({
  at: new Date().toISOString(),
  loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
});

export const machineLine = (m: Machine): string =>
  `${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, node ${m.node}, Linux ${m.kernel}, commit ${m.commit}${m.dirty ? ' (+ uncommitted changes)' : ''}`;

export const textTable = (rows: string[][]): string => {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

export const markdownTable = (rows: string[][]): string => {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const [head, ...body] = rows;
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
};

export const writeResult = (name: string, record: unknown): string => {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
};

// Replaces what stands between <!-- bench:<section>:start --> and <!-- bench:<section>:end --> in bench/README.md.
export const updateReadme = (section: string, markdown: string): string => {
  const file = join(ROOT, 'bench', 'README.md');
  const start = `<!-- bench:${section}:start -->`;
  const end = `<!-- bench:${section}:end -->`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
  return file;
};

export const stamp = (at: string): string => at.replace(/[:.]/g, '-');
