import { performance } from 'node:perf_hooks';

// How long, in windows of `ms`, a Redis that keeps answering this process's other calls is waited for.
export const PATIENCE = 4;
// When this process last heard an answer from Redis (any call made through answerWithin).
let heardAt = -Infinity;

// A Redis answer, or an error once Redis has been silent for `ms`: how the gateway tells a hung Redis from a slow
// one. Silent means two things here.
// - Time this process could have heard the answer. On a starved machine a timer fires late, and Node runs due
//   timers before it reads the sockets, so a plain timeout would call an answer that already arrived "none": an
//   expiry first lets the loop read what has arrived, and a timer that fired late (the process was not running)
//   gives the answer one more window.
// - No answer to anything. Under load a gateway hears Redis in late batches (ioredis's auto-pipelining keeps one
//   pipeline in flight per node, and a busy loop reads each batch late): while Redis answers other calls within
//   the window it is slow, not away, and the call is waited for, up to PATIENCE windows in all.
export const answerWithin = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const started = performance.now();
    let due = started + ms;
    let extended = false;
    const expire = (): void => {
      const now = performance.now();
      const late = !extended && now - due > ms / 2;
      if (late || (now - heardAt < ms && now - started < ms * PATIENCE)) {
        extended ||= late;
        due = now + ms;
        timer = setTimeout(expire, ms);
        return;
      }
      setImmediate(() => reject(new Error(`no answer within ${ms} ms`)));
    };
    let timer = setTimeout(expire, ms);
    p.then(
      (v) => {
        heardAt = performance.now();
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
