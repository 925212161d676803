import ipaddr from 'ipaddr.js';

// The network a client address belongs to, for "never used from here before": an IPv4 /24 or an IPv6 /48
// (a typical site allocation). IPv4-mapped IPv6 addresses count as IPv4. Null for anything unparsable.
export const networkOf = (ip: string): string | null => {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip.trim());
  } catch {
    return null;
  }
  if (addr instanceof ipaddr.IPv6 && addr.isIPv4MappedAddress()) addr = addr.toIPv4Address();
  if (addr instanceof ipaddr.IPv4) {
    const [a, b, c] = addr.octets;
    return `${a}.${b}.${c}.0/24`;
  }
  const p = (addr as ipaddr.IPv6).parts;
  return `${ipaddr.IPv6.parse(`${p[0].toString(16)}:${p[1].toString(16)}:${p[2].toString(16)}::`).toString()}/48`;
};

const DAY_MS = 86_400_000;

// A use after at least `days` of silence (since the last use, or since creation for a key never used).
export const dormantDays = (referenceMs: number | null, useMs: number, days: number): number | null => {
  if (referenceMs === null) return null;
  const idle = (useMs - referenceMs) / DAY_MS;
  return idle >= days ? Math.floor(idle) : null;
};
