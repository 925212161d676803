import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher } from 'undici';

// Where keygate may send an admin-configured request (webhooks, provider credential URLs): public unicast
// addresses only. Loopback, private (RFC 1918), unique-local and carrier-grade NAT ranges only when the operator
// allows them (ALLOW_PRIVATE_UPSTREAMS, set by `npm run up` for its local mock); link-local (cloud metadata
// services), unspecified, multicast, broadcast and reserved ranges never. The ranges are ipaddr.js's.

// Refused unless private upstreams are allowed.
const PRIVATE_RANGES = new Set(['loopback', 'private', 'uniqueLocal', 'carrierGradeNat']);
// Named in the error where they are the reason; every other non-unicast range reads "a reserved address".
const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  uniqueLocal: 'a unique-local address',
  carrierGradeNat: 'a carrier-grade NAT address',
  linkLocal: 'a link-local address',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
};

export type OutboundRefusal = 'INVALID_URL' | 'HOST_NOT_FOUND' | 'ADDRESS_NOT_ALLOWED';

export class OutboundAddressError extends Error {
  override readonly name = 'OutboundAddressError';
  constructor(
    readonly code: OutboundRefusal,
    message: string,
  ) {
    super(message);
  }
}

// Why this address may not be called, or null when it may. ipaddr.process turns ::ffff:a.b.c.d into a.b.c.d,
// so an IPv4-mapped link-local address is refused like the plain one.
export const addressRefusal = (address: string, allowPrivate: boolean): string | null => {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const range = ipaddr.process(address).range();
  if (range === 'unicast') return null;
  if (allowPrivate && PRIVATE_RANGES.has(range)) return null;
  return RANGE_NAMES[range] ?? 'a reserved address';
};

const unbracket = (host: string): string => (host.startsWith('[') ? host.slice(1, -1) : host);

const refused = (reason: string): OutboundAddressError =>
  new OutboundAddressError(
    'ADDRESS_NOT_ALLOWED',
    `resolves to ${reason}; only public addresses are allowed` +
      (reason.includes('link-local') ? '' : ' (ALLOW_PRIVATE_UPSTREAMS allows private ones)'),
  );

// A lookup that answers only with addresses that pass, so the address checked is the address connected to
// (no second resolution a rebinding DNS server could answer differently).
const checkedLookup =
  (allowPrivate: boolean): LookupFunction =>
  (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const reasons = addresses.map((a) => addressRefusal(a.address, allowPrivate));
      const allowed = addresses.filter((_, i) => reasons[i] === null);
      if (allowed.length === 0) return callback(refused(reasons[0] ?? 'no address'), '', 0);
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };

export interface OutboundPolicyOptions {
  allowPrivate: boolean;
  connectTimeoutMs?: number;
}

export class OutboundPolicy {
  readonly dispatcher: Dispatcher;
  // The checked connect, for a client of its own (the gateway's per-origin undici Pools): a stored URL is checked
  // again at every connection, so a name that resolved to a public address at creation and to a private one since
  // (DNS rebinding) is refused.
  readonly connect: buildConnector.connector;

  constructor(private readonly options: OutboundPolicyOptions) {
    const base = buildConnector({
      lookup: checkedLookup(options.allowPrivate),
      timeout: options.connectTimeoutMs ?? 10_000,
    } as buildConnector.BuildOptions);
    // An IP literal never goes through lookup, so it is checked here, right before the connect.
    const connect: buildConnector.connector = (opts, callback) => {
      const host = unbracket(opts.hostname);
      const reason = isIP(host) ? addressRefusal(host, options.allowPrivate) : null;
      if (reason) return callback(refused(reason), null);
      return base(opts, callback);
    };
    this.connect = connect;
    this.dispatcher = new Agent({ connect });
  }

  // At creation: the URL must be http(s) and every address its host resolves to must pass. The WHATWG parser
  // has already turned decimal, hex and octal IPv4 forms (http://2130706433/) into dotted quads.
  async check(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OutboundAddressError('INVALID_URL', 'is not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new OutboundAddressError('INVALID_URL', 'must be an http(s) URL');
    const host = unbracket(parsed.hostname);
    const addresses = isIP(host)
      ? [host]
      : await new Promise<string[]>((resolve, reject) =>
          dnsLookup(host, { all: true }, (err, found) =>
            err
              ? reject(new OutboundAddressError('HOST_NOT_FOUND', `host ${host} not found`))
              : resolve(found.map((a) => a.address)),
          ),
        );
    for (const address of addresses) {
      const reason = addressRefusal(address, this.options.allowPrivate);
      if (reason) throw refused(reason);
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

export type OutboundFailure =
  OutboundRefusal | 'CONNECTION_REFUSED' | 'CONNECTION_RESET' | 'TIMEOUT' | 'TLS_ERROR' | 'CONNECTION_FAILED';

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY))/;

// What went wrong with an outbound call, as a code: never the library's text, which can carry addresses and
// ports (a stored error must not turn the delivery log into a port scanner). Walks fetch's cause chain.
export const outboundFailure = (error: unknown): OutboundFailure => {
  for (
    let e = error as { name?: string; code?: string; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (e instanceof OutboundAddressError) return e.code;
    if (e.name === 'TimeoutError' || e.name === 'AbortError' || TIMEOUT_CODES.has(e.code ?? ''))
      return 'TIMEOUT';
    if (e.code === 'ECONNREFUSED') return 'CONNECTION_REFUSED';
    if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'HOST_NOT_FOUND';
    if (e.code === 'ECONNRESET' || e.code === 'UND_ERR_SOCKET' || e.code === 'EPIPE')
      return 'CONNECTION_RESET';
    if (e.code && TLS_CODE.test(e.code)) return 'TLS_ERROR';
    e = e.cause as typeof e;
  }
  return 'CONNECTION_FAILED';
};

export const OUTBOUND_FAILURE_TEXT: Record<OutboundFailure, string> = {
  INVALID_URL: 'invalid URL',
  HOST_NOT_FOUND: 'host not found',
  ADDRESS_NOT_ALLOWED: 'address not allowed',
  CONNECTION_REFUSED: 'connection refused',
  CONNECTION_RESET: 'connection reset',
  TIMEOUT: 'timeout',
  TLS_ERROR: 'TLS error',
  CONNECTION_FAILED: 'connection failed',
};
