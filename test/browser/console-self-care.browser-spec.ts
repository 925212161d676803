import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { generateApiKey } from '@keygate/contracts';
import { api, chat, createKey, eventually, ROOT, testStack } from '@keygate/testing';
import { launchChromium } from './browser';
import { browserRun } from './browser-run';

// Keys that look after themselves, in the console (issue 20): a leak report pasted into a dialog, the dormancy
// policy, a key's history read back "as of" one of its events, and the key a request was served under.
process.env.KEYGATE_E2E_RUN = browserRun();
const stack = testStack();
const admin = api(stack.keyServiceUrl, stack.adminToken);
const run = randomBytes(3).toString('hex');
const SHOTS = join(ROOT, 'docs', 'console');

describe('the console: leak reports, dormancy, as-of', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await page.goto(`${stack.keyServiceUrl}/console/`);
    await page.getByLabel('Admin token').fill(stack.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console sections' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('revokes the pasted keys that are ours, shows them masked, and reads the key back as it was', async () => {
    const name = `leaky ${run}`;
    const created = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
      name,
      dormantAfterDays: 45,
    });
    const { id, key } = created.body;
    const foreign = generateApiKey('live');

    await page.goto(`${stack.keyServiceUrl}/console/#/keys`);
    await page.getByRole('button', { name: 'Report leaked keys' }).click();
    const dialog = page.getByRole('dialog', { name: 'Report leaked keys' });
    await dialog.getByLabel('Leaked keys').fill(`OPENAI_API_KEY=${key}\nother: ${foreign}`);
    await dialog.getByLabel('Source').fill(`pastebin ${run}`);
    await dialog.getByRole('button', { name: 'Revoke leaked keys' }).click();
    const report = dialog.getByRole('table', { name: 'Leak report' });
    await report.getByRole('row', { name: new RegExp(`${id}.*revoked now`) }).waitFor();
    await dialog.getByText('1 revoked, 0 already revoked, 1 not ours.').waitFor();
    const shown = await dialog.textContent();
    expect(shown).not.toContain(key);
    expect(shown).not.toContain(foreign);
    await page.screenshot({ path: join(SHOTS, 'report-leaked-keys.png') });
    await dialog.getByRole('button', { name: 'Done' }).click();

    await page.goto(`${stack.keyServiceUrl}/console/#/keys/${id}`);
    const drawer = page.getByRole('dialog', { name });
    await drawer.getByRole('row', { name: 'Suspend when unused after 45 days unused' }).waitFor();
    const history = drawer.getByRole('table', { name: 'Key history' });
    await history.getByRole('row', { name: /KeyRevoked/ }).waitFor();
    await history
      .getByRole('row', { name: /KeyCreated/ })
      .getByRole('button')
      .click();
    const asOf = drawer.getByRole('region', { name: /^Key as of/ });
    await asOf.getByText('KeyCreated by bootstrap', { exact: false }).waitFor();
    await asOf.getByText('active', { exact: true }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'key-as-of.png'), fullPage: true });
    await history
      .getByRole('row', { name: /KeyRevoked/ })
      .getByRole('button')
      .click();
    await asOf.getByText('revoked', { exact: true }).waitFor();
  });

  it('finds a request by its x-request-id and shows the key as it was when it arrived', async () => {
    const k = await createKey(stack, { routes: ['gpt-4o-mini'] });
    const served = await chat(stack.gatewayUrl, k.key, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const requestId = served.headers.get('x-request-id')!;
    expect((await admin('POST', `/v1/keys/${k.id}/revoke`, { reason: 'test' })).status).toBe(200);
    await eventually(
      () => api(stack.usageServiceUrl, stack.adminToken)('GET', `/v1/usage/requests/${requestId}`),
      (r) => r.status === 200,
    );

    await page.goto(`${stack.keyServiceUrl}/console/#/usage`);
    await page.getByLabel('Find a request').fill(requestId);
    await page.getByRole('button', { name: 'Look up' }).click();
    const row = page.getByRole('table', { name: `Request ${requestId}` });
    await row.getByRole('row', { name: `Key ${k.id}` }).waitFor();
    await row.getByRole('row', { name: 'Status 200' }).waitFor();
    const asOf = page.getByRole('region', { name: /^Key as of/ });
    await asOf.getByText('active', { exact: true }).waitFor();
    await asOf.getByText('KeyCreated by bootstrap', { exact: false }).waitFor();
    expect(await page.textContent('body')).not.toContain(k.key);
  });
});
