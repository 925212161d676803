import Table from 'cli-table3';
import type { Io } from './io';

export type Column<T> = [header: string, cell: (row: T) => unknown];

const text = (v: unknown): string =>
  v === null || v === undefined
    ? '-'
    : Array.isArray(v)
      ? v.map(text).join(',') || '-'
      : typeof v === 'object'
        ? JSON.stringify(v)
        : String(v);

// Borderless, kubectl-like columns: readable in a terminal, easy to cut/awk.
const plain = (head: string[]): Table.Table =>
  new Table({
    head,
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });

export const renderTable = <T>(columns: Column<T>[], rows: T[]): string => {
  if (rows.length === 0) return '(none)\n';
  const table = plain(columns.map(([h]) => h));
  for (const row of rows) table.push(columns.map(([, cell]) => text(cell(row))));
  return `${table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')}\n`;
};

// One resource as "field  value" lines.
export const renderDetails = (fields: [label: string, value: unknown][]): string => {
  const table = plain(['', '']);
  for (const [label, value] of fields) table.push([label, text(value)]);
  // Drop the empty header line.
  return `${table
    .toString()
    .split('\n')
    .slice(1)
    .map((l) => l.trimEnd())
    .join('\n')}\n`;
};

export const printJson = (io: Io, value: unknown): void => io.out(`${JSON.stringify(value, null, 2)}\n`);

// --json prints what the API answered; otherwise the human rendering.
export const print = (io: Io, json: boolean, value: unknown, human: () => string): void =>
  json ? printJson(io, value) : io.out(human());
