import * as ipaddr from 'ipaddr.js';
import { DomainError } from '../domain-errors';

// Canonical CIDR strings for key IP allow/deny lists, so equal ranges compare equal and the gateway matches
// exactly what was stored.
//
// Rules (stricter than ipaddr.js, which also takes legacy forms the gateway should never see):
// - IPv4 only in four-part decimal without leading zeros: `010.0.0.1` is octal to some parsers, `10.1` is
//   shorthand to others; both are rejected rather than guessed.
// - A bare address means a single host: `/32` or `/128`.
// - Host bits set (`10.0.0.1/8`) are REJECTED, not silently masked to `10.0.0.0/8`: the writer probably meant a
//   narrower range, and widening an allow list without telling anyone is the wrong failure. The error names the
//   network form in `details.suggestion`. (PostgreSQL's `cidr` type makes the same choice.)
// - IPv6 is written in RFC 5952 form (lower case, `::` compression); zone ids (`fe80::1%eth0`) are rejected.
// - IPv4-mapped IPv6 ranges (`::ffff:10.0.0.0/104`) are rewritten to IPv4 (`10.0.0.0/8`), since that is how
//   the gateway sees such clients once it unmaps the socket address.

const PREFIX = /^(0|[1-9][0-9]{0,2})$/;

const invalid = (value: string, reason: string, details: Record<string, unknown> = {}): DomainError =>
  new DomainError('INVALID_CIDR', `"${value}" is not a valid CIDR range: ${reason}`, { value, ...details });

const parseAddress = (text: string): ipaddr.IPv4 | ipaddr.IPv6 | null => {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return null;
};

const hasHostBits = (bytes: number[], prefix: number): boolean =>
  bytes.some((byte, i) => {
    const networkBits = Math.min(8, Math.max(0, prefix - i * 8));
    const hostMask = 0xff >> networkBits;
    return (byte & hostMask) !== 0;
  });

const maskBytes = (bytes: number[], prefix: number): number[] =>
  bytes.map((byte, i) => {
    const networkBits = Math.min(8, Math.max(0, prefix - i * 8));
    return byte & (0xff << (8 - networkBits)) & 0xff;
  });

const format = (address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): string =>
  address.kind() === 'ipv6'
    ? `${(address as ipaddr.IPv6).toRFC5952String()}/${prefix}`
    : `${address.toString()}/${prefix}`;

export const normalizeCidr = (input: string): string => {
  if (typeof input !== 'string') throw invalid(String(input), 'not a string');
  const value = input.trim();
  const parts = value.split('/');
  if (parts.length > 2) throw invalid(value, 'more than one "/"');
  const [addressText, prefixText] = parts;

  let address = parseAddress(addressText);
  if (!address) throw invalid(value, 'not an IPv4 (dotted decimal) or IPv6 address');
  const maxPrefix = address.kind() === 'ipv4' ? 32 : 128;

  let prefix = maxPrefix;
  if (prefixText !== undefined) {
    if (!PREFIX.test(prefixText)) throw invalid(value, 'the prefix length is not a number');
    prefix = Number(prefixText);
    if (prefix > maxPrefix) throw invalid(value, `the prefix length exceeds ${maxPrefix}`);
  }

  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
  }

  const bytes = address.toByteArray();
  if (hasHostBits(bytes, prefix)) {
    const network = format(ipaddr.fromByteArray(maskBytes(bytes, prefix)), prefix);
    throw invalid(value, `host bits are set; did you mean ${network}?`, { suggestion: network });
  }
  return format(address, prefix);
};

// Normalises every entry and drops duplicates (after normalisation), keeping the first occurrence's order.
export const normalizeCidrList = (inputs: readonly string[]): string[] => [
  ...new Set(inputs.map(normalizeCidr)),
];
