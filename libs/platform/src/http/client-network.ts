import ipaddr from 'ipaddr.js';

// The network a client address belongs to: an IPv4 /24 or an IPv6 /48 (a typical site allocation). IPv4-mapped IPv6
// addresses count as IPv4. Null for anything unparsable. One definition for "never used from here before"
// (usage-service), invalid-key bursts (usage-service) and the gateway's cool-down of a guessing network.
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
