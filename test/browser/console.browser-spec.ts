import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { api, eventually, freeTestPort, ROOT, testStack, waitForGateway } from '@keygate/testing';
import { consoleAt, launchChromium, seriousViolations } from './browser';
import { browserRun } from './browser-run';

// The admin console in Chromium, as an administrator and an auditor use it (issue 16, "Checked by"). One story
// per test, in order: later steps use the key the earlier ones created. Screenshots land in docs/console/.
process.env.KEYGATE_E2E_RUN = browserRun();
const stack = testStack();
const admin = api(stack.keyServiceUrl, stack.adminToken);
const run = randomBytes(3).toString('hex');
const SHOTS = join(ROOT, 'docs', 'console');
const KEY_FORMAT = /^kg_live_[0-9A-Za-z]{49}$/;

const PAGES = [
  'keys',
  'groups',
  'providers',
  'usage',
  'alerts',
  'webhooks',
  'hygiene',
  'admin-tokens',
  'audit',
];

describe('the admin console in a browser', () => {
  let browser: Browser;
  let page: Page;
  let chatGroup: { id: string; name: string };
  let embedGroup: { id: string; name: string };
  const keyName = `browser key ${run}`;
  let plaintext = '';
  let keyId = '';

  const { signIn, open } = consoleAt(stack.keyServiceUrl);
  const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    const group = async (name: string, routes: string[]) =>
      (await admin<{ id: string; name: string }>('POST', '/v1/groups', { name, routes })).body;
    chatGroup = await group(`chat-${run}`, ['gpt-4o-mini']);
    embedGroup = await group(`embeddings-${run}`, ['text-embedding-3-small']);
    browser = await launchChromium();
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1440, height: 900 },
    });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('serves the console with a strict CSP and signs in with an admin token kept in sessionStorage', async () => {
    const res = await fetch(`${stack.keyServiceUrl}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain(`connect-src 'self' ${stack.usageServiceUrl}`);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    await signIn(page, stack.adminToken);
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([stack.adminToken]);
    expect(page.url()).not.toContain(stack.adminToken);
  });

  it('creates a key with only a name and a group, shows it once, and its .pak works with the openai SDK', async () => {
    await open(page, 'keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create key' });
    await dialog.getByLabel('Name').fill(keyName);
    await dialog.getByLabel('Groups', { exact: true }).first().click();
    await page.getByRole('option', { name: chatGroup.name }).click();
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();

    const secret = page.getByRole('dialog', { name: 'Your new API key' });
    await secret.getByText('will not be shown again').waitFor();
    plaintext = (await secret.getByLabel('New API key').innerText()).trim();
    expect(plaintext).toMatch(KEY_FORMAT);
    await shot(page, 'key-created');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      secret.getByRole('button', { name: 'Save as .pak' }).click(),
    ]);
    const pak = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(pak).toMatchObject({
      format: 'keygate-key/1',
      name: keyName,
      environment: 'live',
      key: plaintext,
      baseUrl: `${stack.gatewayUrl}/v1`,
      expiresAt: null,
    });
    keyId = pak.id;
    expect(keyId).toMatch(/^key_/);
    await waitForGateway(stack.gatewayUrl, pak.key);
    const openai = new OpenAI({ apiKey: pak.key, baseURL: pak.baseUrl, maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello from a .pak' }],
    });
    expect(answer.choices[0].message.content).toBeTruthy();

    await secret.getByRole('button', { name: 'Done' }).click();
    await secret.getByRole('button', { name: 'Close, I saved it' }).click();
    await secret.waitFor({ state: 'detached' });
    // After closing: nowhere in the page, nor in browser storage.
    expect(await page.content()).not.toContain(plaintext);
    // (evaluated in the page: strings, since this file is compiled without the DOM library)
    const stored = String(await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })'));
    expect(stored).not.toContain(plaintext);
  });

  it('finds the key in the table, opens its details, adds a group and shows the new route with its group', async () => {
    await page.getByLabel('Search').fill(run);
    const row = page.getByRole('row', { name: new RegExp(keyName) });
    await row.waitFor();
    await shot(page, 'keys');
    await row.getByRole('button', { name: keyName }).click();
    const drawer = page.getByRole('dialog', { name: keyName });
    await drawer.getByRole('heading', { name: 'Accessible routes' }).waitFor();
    const routes = drawer.getByRole('table', { name: 'Accessible routes' });
    await routes.getByRole('row', { name: `gpt-4o-mini ${chatGroup.name}` }).waitFor();

    await drawer.getByLabel('Add to group', { exact: true }).first().click();
    await page.getByRole('option', { name: embedGroup.name }).click();
    await drawer.getByRole('button', { name: 'Add to group' }).click();
    await routes.getByRole('row', { name: `text-embedding-3-small ${embedGroup.name}` }).waitFor();
    await shot(page, 'key-details');
  });

  it('revokes the key with a confirmation naming it, and the gateway answers 401 within a second', async () => {
    const drawer = page.getByRole('dialog', { name: keyName });
    await drawer.getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByRole('dialog', { name: `Revoke ${keyName}?` });
    await confirm.getByLabel(`Type "${keyName}" to confirm`).fill(keyName);
    // The clock starts when the key-service has answered the revocation (what the console then shows).
    const answered = page.waitForResponse((r) => r.url().endsWith(`/v1/keys/${keyId}/revoke`));
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    expect((await answered).status()).toBe(200);
    const revokedAt = Date.now();
    const status = await eventually(
      async () =>
        (await fetch(`${stack.gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${plaintext}` } }))
          .status,
      (s) => s === 401,
      { timeoutMs: 5000, intervalMs: 20 },
    );
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    await drawer.getByText('revoked', { exact: true }).first().waitFor();
    await page.keyboard.press('Escape');
  });

  it("tests a provider's connection: ok against the mock, a clear error against a closed port", async () => {
    const closed = await freeTestPort();
    const add = (name: string, baseUrl: string) =>
      admin('POST', '/v1/providers', {
        name,
        type: 'openai',
        secret: `sk-test-${run}-secret`,
        settings: { baseUrl },
      });
    expect((await add(`mock-${run}`, `${stack.mockUrl}/v1`)).status).toBe(201);
    expect((await add(`closed-${run}`, `http://127.0.0.1:${closed}/v1`)).status).toBe(201);
    await open(page, 'providers');
    const row = (name: string) => page.getByRole('row', { name: new RegExp(`^${name}`) });
    await row(`mock-${run}`).getByRole('button', { name: 'Test connection' }).click();
    await row(`mock-${run}`)
      .getByRole('status')
      .filter({ hasText: /Connection ok \(\d+ ms\)/ })
      .waitFor();
    await row(`closed-${run}`).getByRole('button', { name: 'Test connection' }).click();
    const failure = row(`closed-${run}`).getByRole('status');
    await failure.filter({ hasText: 'Connection failed' }).waitFor();
    expect(await failure.innerText()).toMatch(/ECONNREFUSED|refused|connect/i);
    await shot(page, 'providers');
  });

  it('shows usage data on the usage page after traffic', async () => {
    await eventually(
      async () => {
        await open(page, 'usage');
        return page.getByTestId('usage-chart').count();
      },
      (n) => n > 0,
      { timeoutMs: 30_000, intervalMs: 1000 },
    );
    expect(Number(await page.getByTestId('usage-chart').getAttribute('data-points'))).toBeGreaterThan(0);
    await shot(page, 'usage');
  });

  it('has no serious or critical axe-core violation on any page', async () => {
    const found: Record<string, string[]> = {};
    for (const path of PAGES) {
      await open(page, path);
      const violations = await seriousViolations(page);
      if (violations.length) found[path] = violations;
      if (!['keys', 'providers', 'usage'].includes(path)) await shot(page, path);
    }
    expect(found).toEqual({});
  });

  it('shows an auditor the same pages with no control that would change anything', async () => {
    const issued = await admin<{ token: string }>('POST', '/v1/admin-tokens', {
      name: `auditor-${run}`,
      role: 'auditor',
    });
    const context = await browser.newContext();
    const auditor = await context.newPage();
    await signIn(auditor, issued.body.token);
    // Every mutating control of the console starts with its verb.
    const mutating =
      /^(create|add|edit|save|delete|remove|revoke|rotate|suspend|reactivate|issue|acknowledge|test connection|settings)\b/i;
    const seen: Record<string, string[]> = {};
    for (const path of PAGES) {
      await open(auditor, path);
      const buttons = await auditor.getByRole('button').allInnerTexts();
      const bad = buttons.filter((b) => mutating.test(b.trim()));
      if (bad.length) seen[path] = bad;
    }
    await open(auditor, `keys/${keyId}`);
    await auditor.getByRole('heading', { name: 'Accessible routes' }).waitFor();
    const inDetails = (await auditor.getByRole('button').allInnerTexts()).filter((b) =>
      mutating.test(b.trim()),
    );
    if (inDetails.length) seen['key details'] = inDetails;
    expect(seen).toEqual({});
    await context.close();
  });
});
