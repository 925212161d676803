import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { namespaced } from '@keygate/contracts';
import { counter, gauge, networkOf } from '@keygate/platform';
import type { GatewayErrorCode } from '../proxy/gateway-error';
import { onResubscribed, subscribe } from '../redis/redis-client';

export interface CooldownOptions {
  // How long a guessing network is refused; 0 turns the cool-down off (nothing is counted either).
  seconds: number;
  // Invalid keys from one network within `windowSeconds` that start a cool-down.
  failures: number;
  windowSeconds: number;
  // Addresses never refused: the trusted proxies (their own requests stand for many clients).
  exempt: (ip: string) => boolean;
}

// The authentication failures a guesser or a stuffer causes: a string that is no key of ours, or one of ours that
// no longer works. (auth_unavailable is our outage, not theirs.)
const GUESSES = new Set<GatewayErrorCode>(['invalid_api_key', 'key_revoked', 'key_expired']);

const invalidKeys = counter(
  'keygate_gateway_invalid_keys_total',
  'Requests refused for an invalid, malformed, revoked or expired API key',
  ['code'],
);
const cooldownsStarted = counter(
  'keygate_gateway_network_cooldowns_total',
  'Client networks this instance put in an invalid-key cool-down',
);
const refused = counter(
  'keygate_gateway_cooldown_refusals_total',
  'Requests refused because their client network is in an invalid-key cool-down',
);
const cooling = gauge('keygate_gateway_networks_cooling', 'Client networks in an invalid-key cool-down');

// One hash tag: the counters and the table of cool-downs live in one slot, so the script stays cluster-correct.
const keys = {
  count: (network: string) => `{kg:cooldown}:n:${network}`,
  active: '{kg:cooldown}:active',
  // Pub/sub channels are global across Redis databases: in the stack's namespace. Sharded, in the table's slot.
  channel: namespaced('{kg:cooldown}:started'),
};

// KEYS: the network's counter, the table of cool-downs. ARGV: window ms, failures, cool-down ms, network, channel.
// The failure that reaches the limit starts the cool-down (on Redis's clock), records it for instances that start
// later and tells the running ones; the counter starts again from zero.
const RECORD = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
local untilMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], untilMs)
redis.call('SPUBLISH', ARGV[5], ARGV[4] .. ' ' .. untilMs)
return untilMs
`;

// Key-guessing and credential stuffing from one client network (an IPv4 /24, IPv6 /48): after `failures` invalid
// keys within the window, every request from that network is refused with 429 for `seconds`, on every instance.
// The check on the request path reads an in-process table only (empty: no work at all); counting happens on the
// failure path. Redis away: nothing is counted and nothing new is refused; authentication still fails closed.
export class NetworkCooldown implements OnApplicationBootstrap {
  private readonly logger = new Logger('invalid-key-cooldown');
  // network → until (epoch ms)
  private readonly until = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly options: CooldownOptions,
  ) {}

  get enabled(): boolean {
    return this.options.seconds > 0;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    this.redis.defineCommand('kgCooldownRecord', { numberOfKeys: 2, lua: RECORD });
    // After a reconnect notices may have been missed: the table in Redis says what is cooling.
    onResubscribed(this.subscriber, () => void this.load());
    await subscribe(this.subscriber, keys.channel, (message) => {
      const [network, untilMs] = message.split(' ');
      this.start(network, Number(untilMs));
    });
    await this.load();
  }

  // Seconds until the client's network may try again, or null when it is not refused.
  refusal(ip: string | null): number | null {
    if (this.until.size === 0 || ip === null || this.options.exempt(ip)) return null;
    const network = networkOf(ip);
    const until = network === null ? undefined : this.until.get(network);
    if (until === undefined) return null;
    const left = until - Date.now();
    if (left <= 0) {
      this.until.delete(network!);
      cooling.set(this.until.size);
      return null;
    }
    refused.inc();
    return Math.ceil(left / 1000);
  }

  // An authentication failure from this client: counted for its network when it is one a guesser causes.
  failed(ip: string | null, code: GatewayErrorCode): void {
    if (!GUESSES.has(code)) return;
    invalidKeys.inc({ code });
    if (!this.enabled || ip === null || this.options.exempt(ip)) return;
    const network = networkOf(ip);
    if (network === null) return;
    const record = (this.redis as unknown as Recorder).kgCooldownRecord(
      keys.count(network),
      keys.active,
      this.options.windowSeconds * 1000,
      this.options.failures,
      this.options.seconds * 1000,
      network,
      keys.channel,
    );
    record.then(
      (untilMs) => {
        if (untilMs === 0) return;
        cooldownsStarted.inc();
        this.logger.warn(
          { network, until: new Date(untilMs).toISOString() },
          `${this.options.failures} invalid API keys within ${this.options.windowSeconds} s: network refused for ${this.options.seconds} s`,
        );
        this.start(network, untilMs);
      },
      () => undefined,
    );
  }

  private start(network: string, untilMs: number): void {
    if (!Number.isFinite(untilMs) || untilMs <= Date.now()) return;
    this.until.set(network, Math.max(untilMs, this.until.get(network) ?? 0));
    cooling.set(this.until.size);
  }

  private async load(): Promise<void> {
    const table = await this.redis.hgetall(keys.active).catch(() => ({}) as Record<string, string>);
    const now = Date.now();
    const over: string[] = [];
    for (const [network, untilMs] of Object.entries(table)) {
      if (Number(untilMs) > now) this.start(network, Number(untilMs));
      else over.push(network);
    }
    if (over.length) await this.redis.hdel(keys.active, ...over).catch(() => undefined);
  }
}

interface Recorder {
  kgCooldownRecord(...args: (string | number)[]): Promise<number>;
}
