import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';
import { retryDelayMs, signPayload, verifySignature } from './webhook-signature';

describe('webhook signatures', () => {
  const body = '{"type":"AlertRaised","data":{"alertId":"alr_x"}}';

  it('signs timestamp and raw body with HMAC-SHA256, verifiable by a receiver', () => {
    const header = signPayload('s3cret-s3cret-s3cret', 1_700_000_000, body);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret-s3cret-s3cret', header, body, 1_700_000_010)).toBe(true);
  });

  it('rejects another secret, a changed body, a stale timestamp and garbage', () => {
    const header = signPayload('s3cret-s3cret-s3cret', 1_700_000_000, body);
    expect(verifySignature('other-secret-value!!', header, body, 1_700_000_000)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', header, `${body} `, 1_700_000_000)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', header, body, 1_700_001_000)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', 't=x,v1=zz', body, 1_700_000_000)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', undefined, body, 1_700_000_000)).toBe(false);
  });

  it('backs off exponentially with bounded jitter and a cap', () => {
    expect(retryDelayMs(1, 1000, 60_000, 0.5)).toBe(1000);
    expect(retryDelayMs(2, 1000, 60_000, 0.5)).toBe(2000);
    expect(retryDelayMs(4, 1000, 60_000, 0.5)).toBe(8000);
    expect(retryDelayMs(20, 1000, 60_000, 0.5)).toBe(60_000);
    expect(retryDelayMs(3, 1000, 60_000, 0)).toBe(3200);
    expect(retryDelayMs(3, 1000, 60_000, 1)).toBe(4800);
  });
});

describe('SecretBox', () => {
  const master = randomBytes(32).toString('base64');

  it('round-trips a secret and never stores it in clear', () => {
    const box = new SecretBox(master);
    const sealed = box.seal('whsec-very-secret-value');
    expect(sealed).not.toContain('whsec');
    expect(box.open(sealed)).toBe('whsec-very-secret-value');
    expect(box.seal('same')).not.toBe(box.seal('same'));
  });

  it('refuses another master key and tampered ciphertext', () => {
    const sealed = new SecretBox(master).seal('whsec-very-secret-value');
    expect(() => new SecretBox(randomBytes(32).toString('base64')).open(sealed)).toThrow();
    const [v, iv, tag, ct] = sealed.split(':');
    const flipped = Buffer.from(ct, 'base64');
    flipped[0] ^= 1;
    expect(() => new SecretBox(master).open([v, iv, tag, flipped.toString('base64')].join(':'))).toThrow();
    expect(() => new SecretBox('short')).toThrow(/32 bytes/);
  });
});
