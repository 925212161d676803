import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { api, testStack } from '@keygate/testing';
import { consoleAt, launchChromium } from './browser';
import { browserRun } from './browser-run';

// Group budgets and per-route limits, in the console: an administrator sets a group's budget in the group dialog,
// takes it off again, and creates a key in that group with a limit on one of its routes. After each step in the
// page, the management API answers with what the page did. One story, in order: later steps use the group the
// earlier ones created.
process.env.KEYGATE_E2E_RUN = browserRun();
const stack = testStack();
const admin = api(stack.keyServiceUrl, stack.adminToken);
const run = randomBytes(3).toString('hex');

interface GroupBody {
  id: string;
  name: string;
  routes: string[];
  budget: { amountUsd: string; period: string } | null;
}
interface KeyBody {
  id: string;
  name: string;
  groupIds: string[];
  rateLimit: { routes?: Record<string, { requestsPerMinute?: number; tokensPerMinute?: number }> } | null;
}

describe('the console: group budgets and route limits', () => {
  let browser: Browser;
  let page: Page;
  const groupName = `governed-${run}`;
  const keyName = `route-limited ${run}`;
  let groupId = '';
  let keyId = '';

  const { signIn, open } = consoleAt(stack.keyServiceUrl);
  const groupRow = () =>
    page.getByRole('table', { name: 'Groups' }).getByRole('row', { name: new RegExp(`^${groupName} `) });
  const budgetCell = () => groupRow().getByRole('cell').nth(3);

  beforeAll(async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    await signIn(page, stack.adminToken);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('creates a group with a monthly budget of 25 USD on gpt-4o-mini, shown in the table and held by the server', async () => {
    await open(page, 'groups');
    await page.getByRole('button', { name: 'Create group' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create group' });
    await dialog.getByLabel('Name').fill(groupName);
    await dialog.getByLabel('Routes', { exact: true }).first().click();
    await page.getByRole('option', { name: 'gpt-4o-mini', exact: true }).click();
    await dialog.getByLabel('Budget (USD)').fill('25');
    await dialog.getByLabel('Budget period', { exact: true }).first().click();
    await page.getByRole('option', { name: 'month', exact: true }).click();
    const answered = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/groups',
    );
    await dialog.getByRole('button', { name: 'Save' }).click();
    const created = await answered;
    expect(created.status()).toBe(201);
    groupId = ((await created.json()) as GroupBody).id;
    expect(groupId).toBeTruthy();
    await dialog.waitFor({ state: 'detached' });

    await groupRow().getByRole('cell', { name: 'gpt-4o-mini', exact: true }).waitFor();
    await budgetCell().filter({ hasText: '$25 per month' }).waitFor();
    expect(await budgetCell().innerText()).toContain('25');
    expect(await budgetCell().innerText()).toContain('month');

    const held = await admin<GroupBody>('GET', `/v1/groups/${groupId}`);
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({
      id: groupId,
      name: groupName,
      routes: ['gpt-4o-mini'],
      budget: { amountUsd: '25', period: 'month' },
    });
  });

  it('edits the group to take its budget off: the table shows none, the server holds no budget', async () => {
    await groupRow()
      .getByRole('button', { name: `Edit ${groupName}` })
      .click();
    const dialog = page.getByRole('dialog', { name: `Edit ${groupName}` });
    const amount = dialog.getByLabel('Budget (USD)');
    expect(await amount.inputValue()).toBe('25');
    await amount.fill('');
    const answered = page.waitForResponse(
      (r) => r.request().method() === 'PATCH' && new URL(r.url()).pathname === `/v1/groups/${groupId}`,
    );
    await dialog.getByRole('button', { name: 'Save' }).click();
    expect((await answered).status()).toBe(200);
    await dialog.waitFor({ state: 'detached' });

    await budgetCell()
      .filter({ hasText: /^none$/ })
      .waitFor();
    expect(await budgetCell().innerText()).not.toContain('25');

    const held = await admin<GroupBody>('GET', `/v1/groups/${groupId}`);
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ id: groupId, routes: ['gpt-4o-mini'], budget: null });
  });

  it('creates a key in the group with a route limit gpt-4o-mini = 10 requests/min, held by the server', async () => {
    await open(page, 'keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create key' });
    await dialog.getByLabel('Name').fill(keyName);
    await dialog.getByLabel('Groups', { exact: true }).first().click();
    await page.getByRole('option', { name: groupName }).click();

    const limits = dialog.getByRole('group', { name: 'Route limits' });
    await limits.getByRole('button', { name: 'Add route limit' }).click();
    await limits.getByLabel('Route of limit 1', { exact: true }).first().click();
    await page.getByRole('option', { name: 'gpt-4o-mini', exact: true }).click();
    await limits.getByLabel('Requests per minute on gpt-4o-mini').fill('10');
    const answered = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/keys',
    );
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const created = await answered;
    expect(created.status()).toBe(201);
    keyId = ((await created.json()) as KeyBody).id;
    expect(keyId).toMatch(/^key_/);

    const secret = page.getByRole('dialog', { name: 'Your new API key' });
    await secret.getByText('will not be shown again').waitFor();
    await secret.getByRole('button', { name: 'Done' }).click();
    await secret.getByRole('button', { name: 'Close, I saved it' }).click();
    await secret.waitFor({ state: 'detached' });

    const held = await admin<KeyBody>('GET', `/v1/keys/${keyId}`);
    expect(held.status).toBe(200);
    expect(held.body.name).toBe(keyName);
    expect(held.body.groupIds).toEqual([groupId]);
    expect(held.body.rateLimit?.routes).toEqual({ 'gpt-4o-mini': { requestsPerMinute: 10 } });
  });

  it("opens the key's details and shows its route limit", async () => {
    await page.getByLabel('Search').fill(run);
    const row = page.getByRole('row', { name: new RegExp(keyName) });
    await row.waitFor();
    await row.getByRole('button', { name: keyName }).click();
    const drawer = page.getByRole('dialog', { name: keyName });
    await drawer.getByRole('heading', { name: 'Restrictions' }).waitFor();
    await drawer.getByRole('row', { name: 'Route limits gpt-4o-mini: 10 req/min', exact: true }).waitFor();
    await drawer
      .getByRole('table', { name: 'Accessible routes' })
      .getByRole('row', { name: `gpt-4o-mini ${groupName}` })
      .waitFor();

    const held = await admin<KeyBody>('GET', `/v1/keys/${keyId}`);
    expect(held.body.rateLimit?.routes).toEqual({ 'gpt-4o-mini': { requestsPerMinute: 10 } });
    await page.keyboard.press('Escape');
  });
});
