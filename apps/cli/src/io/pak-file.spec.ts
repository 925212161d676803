import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkWritable,
  exportLines,
  PAK_FORMAT,
  readPak,
  upsertEnvFile,
  writePak,
  type PakFile,
} from './pak-file';

const KEY = `kg_test_${'a'.repeat(43)}000000`;
const pak: PakFile = {
  format: PAK_FORMAT,
  id: 'key_1',
  name: "o'brien's app",
  environment: 'test',
  key: KEY,
  baseUrl: 'http://127.0.0.1:8080/v1',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
};

describe('.pak files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keygate-pak-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes mode 0600 and reads back what it wrote', () => {
    const file = join(dir, 'app.pak');
    writePak(file, pak);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readPak(file)).toEqual(pak);
    expect(JSON.parse(readFileSync(file, 'utf8')).format).toBe('keygate-key/1');
  });

  it('refuses files that are not .pak files, and paths it must not write', () => {
    const file = join(dir, 'bad.pak');
    writeFileSync(file, JSON.stringify({ ...pak, format: 'other/1' }));
    expect(() => readPak(file)).toThrow(/not a .pak file/);
    writeFileSync(file, JSON.stringify({ ...pak, key: 'sk-openai' }));
    expect(() => readPak(file)).toThrow(/holds no keygate key/);
    expect(() => readPak(join(dir, 'missing.pak'))).toThrow(/cannot read .*ENOENT/);
    expect(() => checkWritable(file, { replace: false })).toThrow(/already exists/);
    expect(checkWritable(file, { replace: true })).toBe(file);
    expect(() => checkWritable(join(dir, 'no', 'such', 'x.pak'), { replace: false })).toThrow(
      /does not exist/,
    );
  });

  it('prints exports a POSIX shell evaluates back to the same values', () => {
    const tricky = { key: KEY, baseUrl: "http://h/v1?a='b'&c=$HOME" };
    const script = `${exportLines(tricky)}printf '%s\\n%s' "$OPENAI_API_KEY" "$OPENAI_BASE_URL"`;
    expect(execFileSync('sh', ['-c', script], { encoding: 'utf8' })).toBe(`${tricky.key}\n${tricky.baseUrl}`);
  });

  it('sets OPENAI_* in a dotenv file, keeping its other lines, mode 0600', () => {
    const file = join(dir, '.env');
    writeFileSync(file, 'DEBUG=1\nOPENAI_API_KEY=old\nexport OPENAI_BASE_URL=old\n');
    upsertEnvFile(file, pak);
    expect(readFileSync(file, 'utf8')).toBe(
      `DEBUG=1\nOPENAI_API_KEY=${KEY}\nOPENAI_BASE_URL=${pak.baseUrl}\n`,
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
