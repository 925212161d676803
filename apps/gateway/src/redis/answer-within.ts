import { performance } from 'node:perf_hooks';

// A Redis answer within `ms`, or an error: how the gateway tells a hung Redis from a slow one. The time counted is
// time this process could have heard the answer. On a starved machine a timer fires late, and Node runs due timers
// before it reads the sockets, so a plain timeout would call an answer that already arrived "none": an expiry first
// lets the loop read what has arrived, and a timer that fired late (the process was not running) gives the answer
// one more window before it is given up.
export const answerWithin = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    let due = performance.now() + ms;
    let extended = false;
    const expire = (): void => {
      if (!extended && performance.now() - due > ms / 2) {
        extended = true;
        due = performance.now() + ms;
        timer = setTimeout(expire, ms);
        return;
      }
      setImmediate(() => reject(new Error(`no answer within ${ms} ms`)));
    };
    let timer = setTimeout(expire, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
