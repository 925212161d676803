import { clientIp, ipAllowed, ipIn, parseCidrs, parseIp } from './ip-rules';

describe('ip rules', () => {
  const rules = (allow: string[], deny: string[] = []) => ({
    allow: parseCidrs(allow),
    deny: parseCidrs(deny),
  });

  it('allows what an allow list holds, deny winning, and every address when both are empty', () => {
    const r = rules(['10.0.0.0/8', '2001:db8::/32'], ['10.9.0.0/16']);
    // Twice each: the second answer comes from the parsed-address memory and must be the same.
    for (let i = 0; i < 2; i++) {
      expect(ipAllowed('10.1.2.3', r)).toBe(true);
      expect(ipAllowed('::ffff:10.1.2.3', r)).toBe(true); // IPv4-mapped reads as IPv4
      expect(ipAllowed('10.9.0.1', r)).toBe(false);
      expect(ipAllowed('11.0.0.1', r)).toBe(false);
      expect(ipAllowed('2001:db8::1', r)).toBe(true);
      expect(ipAllowed('not-an-ip', r)).toBe(false);
      expect(ipAllowed(null, r)).toBe(false);
    }
    expect(ipAllowed('11.0.0.1', rules([]))).toBe(true);
    expect(ipAllowed('10.9.0.1', rules([], ['10.9.0.0/16']))).toBe(false);
  });

  it('parses what it does not remember (overlong text) all the same, and refuses it when invalid', () => {
    expect(parseIp('z'.repeat(100))).toBeNull();
    expect(ipIn('192.168.1.1', parseCidrs(['192.168.0.0/16']))).toBe(true);
    expect(parseIp('192.168.1.1')).toBe(parseIp('192.168.1.1')); // remembered: the same object
  });

  it('takes the right-most untrusted X-Forwarded-For hop behind a trusted proxy, and the peer otherwise', () => {
    const trusted = parseCidrs(['127.0.0.1/32']);
    expect(clientIp('127.0.0.1', '198.51.100.7, 203.0.113.9', trusted)).toBe('203.0.113.9');
    expect(clientIp('127.0.0.1', '198.51.100.7, 127.0.0.1', trusted)).toBe('198.51.100.7');
    expect(clientIp('127.0.0.1', `${'x'.repeat(200)}`, trusted)).toBe('127.0.0.1');
    expect(clientIp('192.0.2.1', '198.51.100.7', trusted)).toBe('192.0.2.1');
    expect(clientIp('::ffff:192.0.2.1', undefined, [])).toBe('192.0.2.1');
  });
});
