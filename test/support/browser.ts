import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/lib/browser.js';

// Headless Debian chromium under playwright-core, with a fresh profile per launch, and a guard
// on every page: console errors, uncaught exceptions and any request that leaves 127.0.0.1 are
// collected so a test can assert there were none.

export interface Browser {
  context: BrowserContext;
  newPage(): Promise<GuardedPage>;
  close(): Promise<void>;
}

export interface GuardedPage {
  page: Page;
  consoleErrors: string[];
  foreignRequests: string[];
  requests: string[];
}

export async function launchBrowser(): Promise<Browser> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'shepherd-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const guarded: GuardedPage = { page, consoleErrors: [], foreignRequests: [], requests: [] };
      page.on('console', (m) => {
        if (m.type() === 'error') guarded.consoleErrors.push(m.text());
      });
      page.on('pageerror', (e) => guarded.consoleErrors.push(`uncaught: ${e.message}`));
      page.on('request', (r) => {
        guarded.requests.push(r.url());
        const u = new URL(r.url());
        if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1') guarded.foreignRequests.push(r.url());
      });
      return guarded;
    },
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Text of every cell in one column (data-key) of a dashboard table (data-testid). */
export async function column(page: Page, table: string, key: string): Promise<string[]> {
  return page.locator(`[data-testid="${table}"] tbody td[data-key="${key}"]`).allInnerTexts();
}

/** Rows of a dashboard table as objects keyed by data-key. */
export async function rows(page: Page, table: string): Promise<Record<string, string>[]> {
  return page
    .locator(`[data-testid="${table}"] tbody tr`)
    .evaluateAll((trs) =>
      trs.map((tr) =>
        Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.key ?? '', (td as HTMLElement).innerText.trim()])),
      ),
    );
}

/** The number format the dashboard shows (public/app.js fmt). */
export function shown(v: unknown): string {
  if (v === null || v === undefined || v === '') return '–';
  if (typeof v !== 'number') return String(v);
  return String(Number(v.toFixed(4)));
}
