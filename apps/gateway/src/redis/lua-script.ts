import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

type Arg = string | number;

// A Lua script run by EVALSHA, and by EVAL (which also loads it) where Redis answers NOSCRIPT: a new server, a
// restart, a replica promoted by a failover. ioredis's defineCommand does the same through a command subclass
// that builds a closure, copies the arguments twice and adds two promises per call; the gateway runs a script
// per admission and per settlement, so it calls EVALSHA itself. The same on a Redis Cluster (routed by the first
// key).
export class LuaScript {
  private readonly sha: string;

  constructor(
    private readonly lua: string,
    private readonly numberOfKeys: number,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** `args`: the script's keys (numberOfKeys of them), then its arguments. */
  run<T = number[]>(redis: Redis, args: Arg[]): Promise<T> {
    return (redis.evalsha(this.sha, this.numberOfKeys, ...args) as Promise<T>).catch((e: unknown) => {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) throw e;
      return redis.eval(this.lua, this.numberOfKeys, ...args) as Promise<T>;
    });
  }
}
