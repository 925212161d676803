import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';

import { CHROMIUM } from './browser-run';

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });

// Serious and critical axe-core violations of a page (WCAG 2 A/AA rules), as "rule: target" lines.
export const seriousViolations = async (page: Page): Promise<string[]> => {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${v.help}`));
};

/** The console of the key-service at `baseUrl`, as an administrator reaches it: sign in, open a section. */
export const consoleAt = (baseUrl: string) => ({
  signIn: async (p: Page, token: string): Promise<void> => {
    await p.goto(`${baseUrl}/console/`);
    await p.getByLabel('Admin token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('navigation', { name: 'Console sections' }).waitFor();
  },
  open: async (p: Page, path: string): Promise<void> => {
    await p.goto(`${baseUrl}/console/#/${path}`);
    await p.getByRole('heading', { level: 1 }).waitFor();
    await p.waitForLoadState('networkidle');
  },
});
