import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventJournal } from './event-journal';
import type { OutgoingEvent } from './event-producer';

const event = (n: number): OutgoingEvent => ({
  key: `key_${n % 3}`,
  envelope: {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    type: 'RequestCompleted',
    schemaVersion: 1,
    source: 'gateway',
    time: '2026-12-03T00:00:00.000Z',
    subject: `key_${n % 3}`,
    streamPosition: 0,
    globalPosition: 0,
    correlationId: `req_${n}`,
    causationId: null,
    data: { requestId: `req_${n}` },
  } as unknown as OutgoingEvent['envelope'],
  headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
});
const ids = (events: OutgoingEvent[]) => events.map((e) => String(e.envelope.correlationId));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

// Replays everything, `max` at a time, as the emitter does; returns the ids in the order they came out.
const drain = (journal: EventJournal, max = 7): string[] => {
  const out: string[] = [];
  for (let chunk = journal.next(max); chunk; chunk = journal.next(max)) {
    out.push(...ids(chunk.events));
    chunk.commit();
  }
  return out;
};

describe('EventJournal', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'kg-journal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replays what was appended, oldest first, across segments, and frees the space it replayed', () => {
    const journal = new EventJournal({ dir, maxBytes: 1 << 20, segmentBytes: 2048 });
    journal.append(range(0, 40).map(event));
    expect(journal.depth).toBe(40);
    const full = journal.sizeBytes;
    expect(full).toBeGreaterThan(40 * 350);
    expect(journal.freeBytes).toBe((1 << 20) - full);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson')).length).toBeGreaterThan(5);

    // A chunk not committed (the send failed) comes out again.
    expect(ids(journal.next(3)!.events)).toEqual(['req_0', 'req_1', 'req_2']);
    expect(ids(journal.next(3)!.events)).toEqual(['req_0', 'req_1', 'req_2']);

    const replayed = drain(journal);
    expect(replayed).toEqual(range(0, 40).map((n) => `req_${n}`));
    expect(journal.depth).toBe(0);
    expect(journal.sizeBytes).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson'))).toEqual([]);
    expect(journal.next(10)).toBeUndefined();
  });

  it('keeps appending while it replays, and the events come back byte for byte', () => {
    const journal = new EventJournal({ dir, maxBytes: 1 << 20, segmentBytes: 4096 });
    journal.append(range(0, 5).map(event));
    const chunk = journal.next(2)!;
    journal.append(range(5, 10).map(event));
    chunk.commit();
    expect(drain(journal)).toEqual(range(2, 10).map((n) => `req_${n}`));
    journal.append([event(42)]);
    expect(journal.next(5)!.events).toEqual([event(42)]);
  });

  it('survives a restart: a new process replays what the last one left, and writes after it', () => {
    const first = new EventJournal({ dir, maxBytes: 1 << 20, segmentBytes: 2048 });
    first.append(range(0, 12).map(event));
    first.next(4)!.commit(); // replayed before the stop
    first.close();

    const second = new EventJournal({ dir, maxBytes: 1 << 20, segmentBytes: 2048 });
    expect(second.depth).toBeGreaterThanOrEqual(8);
    second.append([event(99)]);
    const replayed = drain(second);
    // Whole segments come back (a chunk committed mid-segment is sent again: the consumer dedupes), then the new one.
    expect(replayed.slice(-9)).toEqual([...range(4, 12).map((n) => `req_${n}`), 'req_99']);
    expect(new Set(replayed).size).toBe(replayed.length);
  });

  it('reports a torn line instead of skipping it silently, and replays the rest', () => {
    const journal = new EventJournal({ dir, maxBytes: 1 << 20 });
    journal.append(range(0, 3).map(event));
    journal.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.ndjson'));
    appendFileSync(join(dir, segment), '{"key":"key_1","envelo'); // a crash mid-write

    const unreadable: string[] = [];
    const reopened = new EventJournal({
      dir,
      maxBytes: 1 << 20,
      onUnreadable: (file, line) => unreadable.push(`${file}:${line}`),
    });
    expect(reopened.depth).toBe(4);
    expect(drain(reopened)).toEqual(['req_0', 'req_1', 'req_2']);
    expect(unreadable).toEqual([`${segment}:4`]);
    expect(reopened.depth).toBe(0);
  });

  it('counts its bound: free space shrinks to zero, and an append past it is still kept', () => {
    const journal = new EventJournal({ dir, maxBytes: 4096, segmentBytes: 1024 });
    journal.append(range(0, 12).map(event));
    expect(journal.freeBytes).toBe(0);
    expect(journal.sizeBytes).toBeGreaterThan(4096);
    expect(drain(journal)).toHaveLength(12);
    expect(journal.freeBytes).toBe(4096);
  });

  it('belongs to one live process: a second one is refused, a dead owner is taken over', () => {
    writeFileSync(join(dir, 'journal.lock'), `${process.ppid}\n`);
    expect(() => new EventJournal({ dir, maxBytes: 1 << 20 })).toThrow(
      `the usage journal directory ${dir} is in use by process ${process.ppid}; give each gateway process its own USAGE_JOURNAL_DIR`,
    );
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'journal.lock'), `${gone}\n`);
    const journal = new EventJournal({ dir, maxBytes: 1 << 20 });
    journal.append([event(1)]);
    expect(journal.depth).toBe(1);
  });
});
