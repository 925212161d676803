import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../cli-error';
import { configPath, readConfig, writeConfig } from './config-store';
import { DEFAULT_URL, findStackToken, resolveConnection } from './connection';

describe('CLI connection: flags, environment, profiles, .stack/admin-token', () => {
  let home: string;
  let env: Record<string, string>;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'keygate-cli-'));
    env = { HOME: home };
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('stores profiles in ~/.config/keygate/config.json with mode 0600 in a 0700 directory', () => {
    const path = configPath(env);
    expect(path).toBe(join(home, '.config', 'keygate', 'config.json'));
    expect(configPath({ HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') })).toBe(
      join(home, 'xdg', 'keygate', 'config.json'),
    );
    writeConfig(path, {
      current: 'prod',
      profiles: { prod: { url: 'https://keys.example', token: 'kgadm_x' } },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.config', 'keygate')).mode & 0o777).toBe(0o700);
    expect(readConfig(path).profiles.prod.url).toBe('https://keys.example');
  });

  it('takes each setting from the flag, else the profile, else the default', () => {
    writeConfig(configPath(env), {
      current: 'prod',
      profiles: {
        prod: { url: 'https://keys.example/', token: 'kgadm_profile' },
        dev: { token: 'kgadm_dev' },
      },
    });
    const fromProfile = resolveConnection({}, env, home);
    expect(fromProfile).toMatchObject({
      url: 'https://keys.example',
      usageUrl: 'http://127.0.0.1:3002',
      token: 'kgadm_profile',
      tokenSource: 'profile',
      profile: 'prod',
    });
    expect(resolveConnection({ url: 'http://other:1', token: 'kgadm_flag' }, env, home)).toMatchObject({
      url: 'http://other:1',
      token: 'kgadm_flag',
      tokenSource: 'flag or KEYGATE_TOKEN',
    });
    expect(resolveConnection({ profile: 'dev' }, env, home)).toMatchObject({
      url: DEFAULT_URL,
      token: 'kgadm_dev',
    });
    expect(() => resolveConnection({ profile: 'nope' }, env, home)).toThrow(/no profile "nope"/);
  });

  it("falls back to a keygate checkout's .stack/admin-token, found from a subdirectory", () => {
    const checkout = join(home, 'keygate');
    mkdirSync(join(checkout, '.stack'), { recursive: true });
    mkdirSync(join(checkout, 'apps', 'cli'), { recursive: true });
    writeFileSync(join(checkout, '.stack', 'admin-token'), 'kgadm_stack\n');
    expect(findStackToken(join(checkout, 'apps', 'cli'))).toBeUndefined(); // not a keygate checkout yet
    writeFileSync(join(checkout, 'package.json'), JSON.stringify({ name: 'keygate' }));
    expect(resolveConnection({}, env, join(checkout, 'apps', 'cli'))).toMatchObject({
      token: 'kgadm_stack',
      tokenSource: '.stack/admin-token',
    });
    expect(resolveConnection({ token: 'kgadm_flag' }, env, checkout).token).toBe('kgadm_flag');
    expect(resolveConnection({}, env, home)).toMatchObject({ token: undefined, tokenSource: 'none' });
  });

  it('refuses bad URLs, unusable tokens and broken config files with usage errors that echo no token', () => {
    const usage = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(CliError);
        expect((e as CliError).exitCode).toBe(2);
        return (e as CliError).message;
      }
      throw new Error('expected a usage error');
    };
    expect(usage(() => resolveConnection({ url: 'ftp://x' }, env, home))).toMatch(
      /--url must be an http\(s\) URL/,
    );
    const message = usage(() => resolveConnection({ token: 'kgadm secret\nx' }, env, home));
    expect(message).not.toContain('secret');
    mkdirSync(join(home, '.config', 'keygate'), { recursive: true });
    writeFileSync(configPath(env), '{"profiles": {"x": {"token": 42}}}');
    expect(usage(() => resolveConnection({}, env, home))).toMatch(/is not a keygate config/);
    writeFileSync(configPath(env), 'not json');
    expect(usage(() => resolveConnection({}, env, home))).toMatch(/is not valid JSON/);
  });
});
