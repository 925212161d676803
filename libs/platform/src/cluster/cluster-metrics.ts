import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';

// GET /metrics of a service that runs as several worker processes on one port (the gateway's GATEWAY_WORKERS):
// whichever worker the scrape reaches asks the primary, the primary collects every worker's own text over IPC and
// answers the sum, so a scrape sees the service as one (counters and histograms add up; gauges are summed too —
// in-flight requests, cached keys, heap: the service's totals).

interface Collect {
  kind: 'kg-metrics-collect';
  id: string;
}
interface Part {
  kind: 'kg-metrics-part';
  id: string;
  text: string;
}
interface Ask {
  kind: 'kg-metrics-ask';
  id: string;
}
interface Merged {
  kind: 'kg-metrics-merged';
  id: string;
  text: string;
}
type Message = Collect | Part | Ask | Merged;

const isMessage = (m: unknown): m is Message =>
  typeof m === 'object' && m !== null && typeof (m as { kind?: unknown }).kind === 'string';

const TIMEOUT_MS = 2_000;

/**
 * Sums Prometheus texts series by series: `# HELP`/`# TYPE` once per metric, each sample line's value added to
 * the same series' (its name and labels, as written) in the others. The first text's order is kept.
 */
export const mergePrometheusTexts = (texts: string[]): string => {
  const lines: string[] = [];
  const sums = new Map<string, number>();
  const seenMeta = new Set<string>();
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        if (!seenMeta.has(line)) {
          seenMeta.add(line);
          lines.push(line);
        }
        continue;
      }
      const cut = line.lastIndexOf(' ');
      const series = line.slice(0, cut);
      const value = Number(line.slice(cut + 1));
      if (!sums.has(series)) lines.push(series);
      sums.set(series, (sums.get(series) ?? 0) + value);
    }
  }
  return `${lines.map((l) => (l.startsWith('#') ? l : `${l} ${sums.get(l)}`)).join('\n')}\n`;
};

/** In the primary: answers a worker's ask with every live worker's metrics, summed. */
export const serveMetricsFromPrimary = (): void => {
  cluster.on('message', (asker: Worker, m: unknown) => {
    if (!isMessage(m) || m.kind !== 'kg-metrics-ask') return;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
    const parts: string[] = [];
    const id = randomUUID();
    const done = (): void => {
      cluster.off('message', onPart);
      clearTimeout(timer);
      if (asker.isConnected())
        asker.send({
          kind: 'kg-metrics-merged',
          id: m.id,
          text: mergePrometheusTexts(parts),
        } satisfies Merged);
    };
    const onPart = (_w: Worker, p: unknown): void => {
      if (!isMessage(p) || p.kind !== 'kg-metrics-part' || p.id !== id) return;
      parts.push(p.text);
      if (parts.length === workers.length) done();
    };
    // A worker that does not answer in time (busy, dying) is left out of this scrape.
    const timer = setTimeout(done, TIMEOUT_MS);
    cluster.on('message', onPart);
    for (const w of workers) w.send({ kind: 'kg-metrics-collect', id } satisfies Collect);
  });
};

/**
 * In a worker: answers the primary's collections with `ownText()`, and returns the function GET /metrics calls —
 * the whole service's text, or this worker's own when the primary does not answer.
 */
export const workerMetrics = (ownText: () => Promise<string>): (() => Promise<string>) => {
  const waiting = new Map<string, (text: string) => void>();
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.kind === 'kg-metrics-collect')
      void ownText().then((text) =>
        process.send?.({ kind: 'kg-metrics-part', id: m.id, text } satisfies Part),
      );
    if (m.kind === 'kg-metrics-merged') waiting.get(m.id)?.(m.text);
  });
  return () =>
    new Promise((resolve) => {
      const id = randomUUID();
      const timer = setTimeout(() => {
        waiting.delete(id);
        void ownText().then(resolve);
      }, TIMEOUT_MS + 500);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(text);
      });
      process.send?.({ kind: 'kg-metrics-ask', id } satisfies Ask);
    });
};
