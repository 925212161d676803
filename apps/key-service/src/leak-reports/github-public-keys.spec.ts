import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GithubPublicKeys, parseGithubPublicKeys, verifyGithubSignature } from './github-public-keys';

const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (k: ReturnType<typeof pair>) => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('GitHub secret scanning signatures', () => {
  const current = pair();
  const other = pair();
  const body = Buffer.from('[{"token":"kg_live_x","type":"keygate_api_key","url":"https://github.com/o/r"}]');
  const signature = sign('sha256', body, current.privateKey).toString('base64');
  const file = join(mkdtempSync(join(tmpdir(), 'gh-keys-')), 'keys.json');
  writeFileSync(
    file,
    JSON.stringify({
      public_keys: [
        { key_identifier: 'k1', key: pem(current), is_current: true },
        { key_identifier: 'k2', key: pem(other), is_current: false },
      ],
    }),
  );

  it('verifies an ECDSA P-256 signature over the raw body with the key its identifier names', async () => {
    const keys = new GithubPublicKeys(file);
    const k1 = await keys.find('k1');
    expect(k1).toBeDefined();
    expect(verifyGithubSignature(body, signature, k1!)).toBe(true);
  });

  it('refuses another key, a changed body, a garbled signature and an unknown identifier', async () => {
    const keys = new GithubPublicKeys(file);
    expect(verifyGithubSignature(body, signature, (await keys.find('k2'))!)).toBe(false);
    const k1 = (await keys.find('k1'))!;
    expect(verifyGithubSignature(Buffer.from(`${body.toString()} `), signature, k1)).toBe(false);
    expect(verifyGithubSignature(body, 'not base64 at all', k1)).toBe(false);
    expect(await keys.find('nope')).toBeUndefined();
  });

  it('refuses a document without public_keys', () => {
    expect(() => parseGithubPublicKeys({ keys: [] })).toThrow(/public_keys/);
  });

  it('is unconfigured without a source', () => {
    expect(new GithubPublicKeys('').configured).toBe(false);
  });
});
