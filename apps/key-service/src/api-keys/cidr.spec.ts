import { DomainError } from '../domain-errors';
import { normalizeCidr, normalizeCidrList } from './cidr';

const errorOf = (input: string): DomainError => {
  try {
    normalizeCidr(input);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`expected ${input} to be rejected`);
};

describe('normalizeCidr', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.168.1.7/32', '192.168.1.7/32'],
    ['192.168.1.7', '192.168.1.7/32'],
    ['  172.16.0.0/12 ', '172.16.0.0/12'],
    ['255.255.255.255/32', '255.255.255.255/32'],
  ])('IPv4 %s → %s', (input, expected) => {
    expect(normalizeCidr(input)).toBe(expected);
  });

  it.each([
    ['::/0', '::/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8:0000:0000::/32', '2001:db8::/32'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'],
    ['::1', '::1/128'],
    ['fe80::/10', 'fe80::/10'],
  ])('IPv6 %s → %s (RFC 5952)', (input, expected) => {
    expect(normalizeCidr(input)).toBe(expected);
  });

  it('rewrites IPv4-mapped IPv6 ranges to IPv4', () => {
    expect(normalizeCidr('::ffff:10.0.0.0/104')).toBe('10.0.0.0/8');
    expect(normalizeCidr('::ffff:1.2.3.4')).toBe('1.2.3.4/32');
  });

  it('rejects host bits instead of widening the range, and suggests the network', () => {
    expect(errorOf('10.0.0.1/8')).toMatchObject({
      code: 'INVALID_CIDR',
      details: { value: '10.0.0.1/8', suggestion: '10.0.0.0/8' },
    });
    expect(errorOf('2001:db8::1/32').details).toMatchObject({ suggestion: '2001:db8::/32' });
    expect(errorOf('0.0.0.1/0').details).toMatchObject({ suggestion: '0.0.0.0/0' });
  });

  it.each([
    ['1.2.3.4/33', 'prefix too long for IPv4'],
    ['::/129', 'prefix too long for IPv6'],
    ['10.0.0.0/-1', 'negative prefix'],
    ['10.0.0.0/08', 'prefix with a leading zero'],
    ['10.0.0.0/', 'empty prefix'],
    ['10.0.0.0/8/8', 'two slashes'],
    ['256.0.0.0/8', 'octet out of range'],
    ['010.0.0.0/8', 'octal-looking octet'],
    ['10.1/16', 'shorthand IPv4'],
    ['0x0a.0.0.0/8', 'hex IPv4'],
    ['fe80::1%eth0', 'IPv6 zone id'],
    ['2001:db8:::/32', 'malformed IPv6'],
    ['example.com', 'a host name'],
    ['', 'empty'],
  ])('rejects %s (%s)', (input) => {
    expect(errorOf(input).code).toBe('INVALID_CIDR');
  });
});

describe('normalizeCidrList', () => {
  it('normalises every entry and drops duplicates, keeping the first order', () => {
    expect(normalizeCidrList(['10.0.0.0/8', '::1', '10.0.0.0/8', '0:0:0:0:0:0:0:1/128'])).toEqual([
      '10.0.0.0/8',
      '::1/128',
    ]);
  });

  it('fails on the first bad entry', () => {
    expect(() => normalizeCidrList(['10.0.0.0/8', 'nope'])).toThrow(DomainError);
  });
});
