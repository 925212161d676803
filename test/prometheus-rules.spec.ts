import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrometheus, prometheusConfig, PROMTOOL } from '../libs/stack/src/observe';

// The Prometheus rules are code: promtool checks them and runs their unit tests (infra/prometheus/tests: synthetic
// series in, which alerts fire and which stay quiet out). Debian's prometheus package brings promtool; it is
// installed with apt-get when missing, as the browser tier installs Chromium.
const rulesDir = join(__dirname, '..', 'infra', 'prometheus');
const promtool = (...args: string[]): string => {
  try {
    return execFileSync(PROMTOOL, args, { cwd: rulesDir, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
};

describe('Prometheus rules (infra/prometheus)', () => {
  const ruleFiles = readdirSync(rulesDir).filter((f) => f.endsWith('.rules.yml'));
  const testFiles = readdirSync(join(rulesDir, 'tests'))
    .filter((f) => f.endsWith('.test.yml'))
    .map((f) => join('tests', f));
  let tmp: string;

  beforeAll(() => {
    ensurePrometheus((m) => process.stdout.write(`[prometheus] ${m}\n`));
    tmp = mkdtempSync(join(tmpdir(), 'keygate-promtool-'));
  }, 600_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('are valid rule files', () => {
    expect(ruleFiles.sort()).toEqual(['alerts.rules.yml', 'recording.rules.yml']);
    const out = promtool('check', 'rules', ...ruleFiles);
    expect(out).toMatch(/alerts\.rules\.yml\s+SUCCESS: \d+ rules found/);
  });

  it('pass their unit tests: each alert fires on its signal and stays quiet without it', () => {
    expect(testFiles.length).toBeGreaterThanOrEqual(2);
    const out = promtool('test', 'rules', ...testFiles);
    expect(out.match(/SUCCESS/g)).toHaveLength(testFiles.length);
  });

  it('cover every signal of docs/operations.md with a tested alert', () => {
    const alerts = [
      ...readFileSync(join(rulesDir, 'alerts.rules.yml'), 'utf8').matchAll(/- alert: (\w+)/g),
    ].map((m) => m[1]);
    const tests = testFiles.map((f) => readFileSync(join(rulesDir, f), 'utf8')).join('\n');
    for (const alert of alerts)
      expect(`${alert}: ${tests.includes(`alertname: ${alert}`)}`).toBe(`${alert}: true`);
    expect(alerts).toEqual(
      expect.arrayContaining([
        'KeygateGatewayErrorBudgetFastBurn',
        'KeygateGatewayErrorBudgetSlowBurn',
        'KeygateAuthUnavailable',
        'KeygateProjectionLag',
        'KeygateOutboxNotDraining',
        'KeygateUsageIngestLag',
        'KeygateUsageJournalInUse',
        'KeygateRateLimitRejectionsSpike',
        'KeygateUpstreamProviderFailing',
        'KeygateServiceDown',
      ]),
    );
  });

  it('load in the configs that use them: docker-compose.yml and npm run up -- --observe', () => {
    // docker-compose mounts this folder at /etc/prometheus/keygate.
    const compose = readFileSync(join(rulesDir, 'prometheus.yml'), 'utf8').replaceAll(
      '/etc/prometheus/keygate',
      rulesDir,
    );
    writeFileSync(join(tmp, 'compose.yml'), compose);
    expect(promtool('check', 'config', join(tmp, 'compose.yml'))).toMatch(/SUCCESS: 2 rule files found/);
    const local = prometheusConfig(
      [
        { service: 'key-service', address: '127.0.0.1:3001' },
        { service: 'gateway', address: '127.0.0.1:8080' },
        { service: 'usage-service', address: '127.0.0.1:3002' },
      ],
      '5s',
      rulesDir,
    );
    writeFileSync(join(tmp, 'local.yml'), local);
    expect(promtool('check', 'config', join(tmp, 'local.yml'))).toMatch(/SUCCESS: 2 rule files found/);
  });
});
