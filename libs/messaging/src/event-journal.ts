import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { OutgoingEvent } from './event-producer';

export interface EventJournalOptions {
  // The directory is this process's alone (a lock file says whose); segments left by an earlier process are
  // picked up and replayed.
  dir: string;
  // The bound: what the segments may occupy on disk, together.
  maxBytes: number;
  // A segment is deleted once every event in it was sent: the unit in which space comes back.
  segmentBytes?: number;
  // An unreadable line (a torn write from a crash, a disk error) cannot be sent: it is reported, never skipped quietly.
  onUnreadable?: (segment: string, line: number) => void;
}

interface Segment {
  file: string;
  bytes: number;
  events: number;
  // Replay: the parsed events and how many of them were sent (only for the segment being replayed).
  loaded?: OutgoingEvent[];
  sent: number;
}

export interface JournalChunk {
  events: OutgoingEvent[];
  // The chunk reached Kafka: advance past it (and delete the segment when it is all sent).
  commit(): void;
}

const LOCK = 'journal.lock';
const SEGMENT = /^segment-(\d{12})\.ndjson$/;
const NEWLINE = 0x0a;

// A local, bounded, append-only journal of events a producer could not send yet: one JSON line per event, in
// segment files written in order and replayed oldest first. What it holds survives a restart of the process (the
// page cache is enough for that; no fsync per event). A crash after a chunk reached Kafka but before its commit
// means that chunk is sent again: consumers dedupe (the usage ledger by request id).
export class EventJournal {
  private readonly segments: Segment[] = [];
  private fd?: number;
  private nextSeq: number;
  private bytes = 0;
  private events = 0;
  private readonly segmentBytes: number;

  constructor(private readonly options: EventJournalOptions) {
    // ~1,300 events a segment: loading one for replay (JSON.parse on the event loop) stays a few milliseconds.
    this.segmentBytes = options.segmentBytes ?? Math.max(64 * 1024, Math.min(1 << 20, options.maxBytes >> 4));
    mkdirSync(options.dir, { recursive: true });
    claim(join(options.dir, LOCK));
    const found = readdirSync(options.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    for (const [file] of found) {
      const content = readFileSync(join(options.dir, file));
      if (content.length === 0) {
        rmSync(join(options.dir, file), { force: true });
        continue;
      }
      this.segments.push({ file, bytes: content.length, events: countLines(content), sent: 0 });
      this.bytes += content.length;
      this.events += this.segments[this.segments.length - 1].events;
    }
    this.nextSeq = found.length ? Number(found[found.length - 1][1]) + 1 : 1;
  }

  // Events waiting to be replayed, and the bytes they occupy.
  get depth(): number {
    return this.events;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get freeBytes(): number {
    return Math.max(0, this.options.maxBytes - this.bytes);
  }

  // Appends every event, even past the bound: the caller decides admission (freeBytes) before it accepts work,
  // and an event of work already accepted is kept rather than lost. Throws only when the disk refuses the write.
  append(events: OutgoingEvent[]): void {
    for (const event of events) {
      const line = Buffer.from(`${JSON.stringify(event)}\n`);
      let open = this.openSegment();
      if (open.bytes > 0 && open.bytes + line.length > this.segmentBytes) {
        this.closeSegment();
        open = this.openSegment();
      }
      writeSync(this.fd!, line);
      open.bytes += line.length;
      open.events += 1;
      this.bytes += line.length;
      this.events += 1;
    }
  }

  // The next events to replay, oldest first, at most `max`; undefined when the journal is empty. The segment being
  // written is closed first when it is the oldest one left, so replay only ever reads complete segments.
  next(max: number): JournalChunk | undefined {
    const segment = this.segments[0];
    if (!segment) return undefined;
    if (this.fd !== undefined && this.segments.length === 1) this.closeSegment();
    segment.loaded ??= this.load(segment);
    const events = segment.loaded.slice(segment.sent, segment.sent + max);
    return {
      events,
      commit: () => {
        if (this.segments[0] !== segment) return;
        segment.sent += events.length;
        if (segment.sent < segment.loaded!.length) return;
        rmSync(join(this.options.dir, segment.file), { force: true });
        this.segments.shift();
        this.bytes -= segment.bytes;
        this.events -= segment.events;
      },
    };
  }

  close(): void {
    this.closeSegment();
    rmSync(join(this.options.dir, LOCK), { force: true });
  }

  private openSegment(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (this.fd !== undefined && last) return last;
    const file = `segment-${String(this.nextSeq++).padStart(12, '0')}.ndjson`;
    this.fd = openSync(join(this.options.dir, file), 'a');
    const segment: Segment = { file, bytes: 0, events: 0, sent: 0 };
    this.segments.push(segment);
    return segment;
  }

  private closeSegment(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private load(segment: Segment): OutgoingEvent[] {
    const lines = readFileSync(join(this.options.dir, segment.file), 'utf8').split('\n');
    const events: OutgoingEvent[] = [];
    lines.forEach((line, i) => {
      if (line.length === 0) return;
      try {
        events.push(JSON.parse(line) as OutgoingEvent);
      } catch {
        this.options.onUnreadable?.(segment.file, i + 1);
      }
    });
    // What cannot be read is gone from the count too, so depth keeps meaning "events still to send".
    this.events -= segment.events - events.length;
    segment.events = events.length;
    return events;
  }
}

const countLines = (content: Buffer): number => {
  let n = 0;
  for (let i = content.indexOf(NEWLINE); i !== -1; i = content.indexOf(NEWLINE, i + 1)) n++;
  // A last line without its newline (a torn write) still counts until replay finds whether it parses.
  return content[content.length - 1] === NEWLINE ? n : n + 1;
};

// One process per journal directory: two writing into the same segments would interleave lines and replay each
// other's events. A lock left by a process that is gone is taken over.
const claim = (lock: string): void => {
  let owner: number | undefined;
  try {
    owner = Number.parseInt(readFileSync(lock, 'utf8'), 10);
  } catch {
    owner = undefined;
  }
  if (owner && owner !== process.pid && alive(owner)) {
    throw new Error(
      `the usage journal directory ${lock.slice(0, -LOCK.length - 1)} is in use by process ${owner}; ` +
        'give each gateway process its own USAGE_JOURNAL_DIR',
    );
  }
  writeFileSync(lock, `${process.pid}\n`);
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
