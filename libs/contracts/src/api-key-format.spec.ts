import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_KEY_LENGTH, generateApiKey, hashApiKey, maskApiKey, parseApiKey } from './api-key-format';

interface Vector {
  key: string;
  note: string;
}
const vectors = JSON.parse(
  readFileSync(join(__dirname, '../../../../shared/test-vectors/key-format.json'), 'utf8'),
) as { valid: Vector[]; invalid: Vector[] };

describe('API key format', () => {
  it.each(vectors.valid)('accepts the valid vector: $note', ({ key }) => {
    expect(parseApiKey(key)).toEqual({ environment: key.slice(3, 7) });
  });

  it.each(vectors.invalid)('rejects the invalid vector: $note', ({ key }) => {
    expect(parseApiKey(key)).toBeNull();
  });

  it('reproduces the vectors from their random bytes', () => {
    expect(generateApiKey('live', Buffer.alloc(32, 0))).toBe(vectors.valid[0].key);
    expect(generateApiKey('live', Buffer.alloc(32, 0xff))).toBe(vectors.valid[1].key);
    expect(generateApiKey('test', Buffer.from([...Array(32).keys()]))).toBe(vectors.valid[2].key);
  });

  it('generates keys that parse, with the right length and environment', () => {
    for (let i = 0; i < 200; i++) {
      const env = i % 2 ? 'live' : 'test';
      const key = generateApiKey(env);
      expect(key).toHaveLength(API_KEY_LENGTH);
      expect(parseApiKey(key)).toEqual({ environment: env });
    }
  });

  it('hashes with sha256 hex and masks to the last four characters', () => {
    const key = vectors.valid[3].key;
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(maskApiKey('live', key.slice(-4))).toBe('kg_live_…0lKh');
  });
});
