// Debian's Chromium driven by playwright-core (no browser download), and a guard that
// records every console error, uncaught exception, failed request and 4xx/5xx answer of
// every page it watches, so that the suite can fail on any of them.
import fs from 'node:fs';
import path from 'node:path';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/** Collects problems from every page of the contexts it watches. */
export class Guard {
  problems = [];

  /** Watches every page `context` opens. */
  watch(context, label) {
    context.on('page', (page) => this.page(page, label));
    for (const p of context.pages()) this.page(p, label);
    return context;
  }

  page(page, label) {
    page.on('console', (msg) => {
      if (msg.type() === 'error') this.problems.push(`[${label}] console error: ${msg.text()} (${page.url()})`);
    });
    page.on('pageerror', (err) => this.problems.push(`[${label}] uncaught exception: ${err.message} (${page.url()})`));
    page.on('requestfailed', (req) => this.problems.push(`[${label}] request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`));
    page.on('response', (resp) => {
      if (resp.status() >= 400) this.problems.push(`[${label}] HTTP ${resp.status()}: ${resp.request().method()} ${resp.url()}`);
    });
  }
}

/** Writes a full-page screenshot to test-results/screens/<name>.png. */
export async function shot(page, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  // Let transitions (dialogs, drawers, chart animation) settle: wait for two animation frames
  // after the network is idle.
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(undefined)))));
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true, animations: 'disabled' });
}
