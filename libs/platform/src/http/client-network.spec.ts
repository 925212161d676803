import { networkOf } from './client-network';

describe('networkOf', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['203.0.113.1', '203.0.113.0/24'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['2001:db8:abcd:12::1', '2001:db8:abcd::/48'],
    ['2001:0db8:abcd:ffff:ffff::9', '2001:db8:abcd::/48'],
    ['::1', '::/48'],
  ])('%s is in %s', (ip, net) => expect(networkOf(ip)).toBe(net));

  it('tells neighbouring networks apart and ignores garbage', () => {
    expect(networkOf('203.0.114.1')).not.toBe(networkOf('203.0.113.1'));
    expect(networkOf('2001:db8:abce::1')).not.toBe(networkOf('2001:db8:abcd::1'));
    expect(networkOf('not-an-ip')).toBeNull();
    expect(networkOf('')).toBeNull();
  });
});
