// The web UI in a real browser (Debian's chromium through playwright-core): two users on a
// demo network chat and call each other by clicking, as people would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { chromiumPath, haveBrowser, launchChromium, openUi } from '../helpers/browser.ts';
import { runDemo } from '../../src/runtime/demo.ts';
import type { Running } from '../../src/runtime/roles.ts';

let browser: Browser | undefined;
let net: Running | undefined;
after(async () => { await browser?.close(); await net?.stop(); });

test('alice and bob chat and call each other through the web UI', { skip: haveBrowser ? false : `no browser at ${chromiumPath} (.ci/run installs Debian's chromium)` }, async () => {
  net = await runDemo({ apiBasePort: 0, quiet: true });
  const ui = net.describe().ui as Record<string, string>;
  browser = await launchChromium();
  const open = (url: string) => openUi(browser!, url);
  const alice = await open(ui.alice);
  const bob = await open(ui.bob);
  assert.match(await alice.locator('#status').innerText(), /alice/);

  await alice.locator('#contacts li', { hasText: 'bob' }).click();
  await alice.fill('#text', 'hello from the browser');
  await alice.click('#send-button');
  await alice.locator('#messages li.out .tick').waitFor();

  await bob.locator('#contacts li', { hasText: 'alice' }).click();
  await bob.locator('#messages li.in', { hasText: 'hello from the browser' }).waitFor();

  await alice.click('#call');
  await bob.locator('#incoming').waitFor({ state: 'visible' });
  assert.match(await bob.locator('#incoming-text').innerText(), /alice is calling/);
  await bob.click('#answer');
  await alice.locator('#call-text', { hasText: 'In call with bob' }).waitFor();
  await bob.locator('#call-text', { hasText: 'In call with alice' }).waitFor();
  if (process.env.TINCAN_SCREENSHOTS) await alice.screenshot({ path: path.join(os.tmpdir(), 'tincan-alice.png'), fullPage: true });

  await bob.click('#hold');
  await alice.locator('#call-text', { hasText: 'Held by bob' }).waitFor();
  await bob.locator('#call-text', { hasText: 'On hold with alice' }).waitFor();
  await bob.locator('#hold', { hasText: 'Resume' }).click();
  await alice.locator('#call-text', { hasText: 'In call with bob' }).waitFor();

  await alice.click('#hangup');
  await bob.locator('#call-bar').waitFor({ state: 'hidden' });
  await alice.locator('#call-bar').waitFor({ state: 'hidden' });
  await bob.locator('#call-ended', { hasText: 'Call with alice ended: they hung up' }).waitFor();
});
