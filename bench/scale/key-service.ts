import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { log, ROOT, spawnProc } from '../lib/processes';

// key-service creates/s comes from bench/key-service (its own bench: 32 clients creating keys over REST, the
// outbox publish lag measured on keys.events), run here against the private broker; its result file is read back.

export interface KeyServiceFigure {
  source: string;
  createsPerSecond: number;
  createLatencyMs: Record<string, number>;
  publishLagMs: Record<string, number>;
  clients: number;
  seconds: number;
}

const latestResult = (since: number): string | null => {
  const dir = join(ROOT, 'bench', 'results');
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('key-service-') && f.endsWith('.json'))
    .map((f) => join(dir, f))
    .filter((f) => {
      const at = Date.parse((JSON.parse(readFileSync(f, 'utf8')) as { at?: string }).at ?? '');
      return at >= since;
    })
    .sort();
  return files[files.length - 1] ?? null;
};

const read = (file: string): KeyServiceFigure => {
  const r = JSON.parse(readFileSync(file, 'utf8')) as {
    config: { clients: number; seconds: number };
    results: {
      createsPerSecond: number;
      createLatencyMs: Record<string, number>;
      publishLagMs: Record<string, number>;
    };
  };
  return {
    source: file.slice(ROOT.length + 1),
    createsPerSecond: r.results.createsPerSecond,
    createLatencyMs: r.results.createLatencyMs,
    publishLagMs: r.results.publishLagMs,
    clients: r.config.clients,
    seconds: r.config.seconds,
  };
};

// BENCH_KEY_SERVICE=reuse takes the newest bench/results/key-service-*.json instead of running it.
export const keyServiceFigure = async (brokers: string, logDir: string): Promise<KeyServiceFigure | null> => {
  const script = join(ROOT, 'dist', 'bench', 'key-service', 'main.js');
  if (process.env.BENCH_KEY_SERVICE === 'reuse' || !existsSync(script)) {
    const file = latestResult(0);
    return file ? read(file) : null;
  }
  const since = Date.now();
  log('key-service: running bench/key-service (its own bench) against the private broker');
  const proc = spawnProc('bench-key-service', process.execPath, [script], {
    env: { KAFKA_BROKERS: brokers, BENCH_SECONDS: process.env.BENCH_KEY_SERVICE_SECONDS ?? '20' },
    logDir,
  });
  await proc.exited;
  const file = latestResult(since);
  if (proc.exitCode() !== 0 || !file) throw new Error(`bench/key-service failed; see ${proc.logFile}`);
  return read(file);
};
