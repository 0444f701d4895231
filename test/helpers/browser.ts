// Debian's chromium driven by playwright-core (never a downloaded browser), with the flags that
// keep it off the network this machine does not have; and a demo network's page, once ready.
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';
export const haveBrowser = fs.existsSync(chromiumPath);

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/** A fresh context's page at `url`, once the web UI has shown itself. */
export async function openUi(browser: Browser, url: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  await page.locator('#app').waitFor({ state: 'visible' });
  return page;
}
