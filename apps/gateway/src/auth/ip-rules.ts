import ipaddr from 'ipaddr.js';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

// True when the address is in one of the CIDRs (false for anything unparsable).
export const ipIn = (ip: string, cidrs: Cidr[]): boolean => {
  const addr = parseIp(ip);
  return addr !== null && inAny(addr, cidrs);
};

// IPv4-mapped IPv6 (::ffff:1.2.3.4), as Node reports IPv4 peers on dual-stack sockets, compares as IPv4.
const parse = (ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null => {
  if (!ipaddr.isValid(ip)) return null;
  const addr = ipaddr.parse(ip);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;
};

// Addresses parsed lately: a key with IP rules checks its client's address on every request, and clients are
// few next to requests. Bounded in entries and in length (an X-Forwarded-For hop is the client's text): past the
// first the memory starts over, past the second nothing is remembered.
const PARSED_MAX = 10_000;
const ADDRESS_MAX_LENGTH = 64;
const parsed = new Map<string, ipaddr.IPv4 | ipaddr.IPv6 | null>();

export const parseIp = (ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null => {
  if (ip.length > ADDRESS_MAX_LENGTH) return parse(ip);
  let addr = parsed.get(ip);
  if (addr === undefined) {
    addr = parse(ip);
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(ip, addr);
  }
  return addr;
};

export const parseCidrs = (list: string[]): Cidr[] =>
  list.map((c) =>
    c.includes('/') ? ipaddr.parseCIDR(c) : ([parseIp(c)!, parseIp(c)!.kind() === 'ipv4' ? 32 : 128] as Cidr),
  );

const inAny = (addr: ipaddr.IPv4 | ipaddr.IPv6, cidrs: Cidr[]): boolean =>
  cidrs.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits] as never));

export interface IpRules {
  allow: Cidr[];
  deny: Cidr[];
}

// Deny wins; an empty allow list allows every address not denied.
export const ipAllowed = (ip: string | null, rules: IpRules): boolean => {
  if (rules.allow.length === 0 && rules.deny.length === 0) return true;
  const addr = ip ? parseIp(ip) : null;
  if (!addr) return false;
  if (inAny(addr, rules.deny)) return false;
  return rules.allow.length === 0 || inAny(addr, rules.allow);
};

const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

// The client address: the TCP peer, unless the peer is a trusted proxy; then the right-most untrusted
// X-Forwarded-For hop (hops a client prepends itself cannot win).
export const clientIp = (
  peer: string | undefined,
  xff: string | string[] | undefined,
  trusted: Cidr[],
): string | null => {
  // No trusted proxy: the peer as Node reports it (always a valid address), IPv4-mapped IPv6 read as IPv4 —
  // the common case, answered without parsing.
  if (trusted.length === 0 && peer) {
    if (peer.startsWith('::ffff:') && DOTTED_QUAD.test(peer.slice(7))) return peer.slice(7);
    if (DOTTED_QUAD.test(peer)) return peer;
  }
  const peerAddr = peer ? parseIp(peer) : null;
  if (!peerAddr) return null;
  if (trusted.length === 0 || !inAny(peerAddr, trusted) || !xff) return peerAddr.toString();
  const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseIp(hops[i]);
    if (!hop) return peerAddr.toString();
    if (!inAny(hop, trusted)) return hop.toString();
  }
  return peerAddr.toString();
};
