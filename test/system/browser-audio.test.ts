// Browser audio in a real chromium: alice's microphone (chromium's fake capture device playing
// a speech WAV) goes through the web UI's WebSocket to her node, across the network to bob's
// node and over his WebSocket into his page, where it is played — and kept, so the test can
// check that what bob's page got is the speech.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { chromiumPath, haveBrowser, launchChromium, openUi } from '../helpers/browser.ts';
import { runDemo } from '../../src/runtime/demo.ts';
import type { Running } from '../../src/runtime/roles.ts';
import { decodeWav } from '../../src/media/wav.ts';
import { toMono48k } from '../../src/media/resample.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';

const speechFile = new URL('../fixtures/speech.wav', import.meta.url).pathname;
let browser: Browser | undefined;
let net: Running | undefined;
after(async () => { await browser?.close(); await net?.stop(); });

test('a call between two browsers carries microphone audio end to end', { skip: haveBrowser ? false : `no browser at ${chromiumPath}` }, async (t) => {
  net = await runDemo({ apiBasePort: 0, quiet: true });
  const ui = net.describe().ui as Record<string, string>;
  browser = await launchChromium([
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${speechFile}`,
    '--autoplay-policy=no-user-gesture-required',
  ]);
  const open = (url: string) => openUi(browser!, url);
  const alice = await open(ui.alice);
  const bob = await open(ui.bob);
  await alice.locator('#contacts li', { hasText: 'bob' }).click();
  await alice.click('#call');
  await bob.locator('#incoming').waitFor({ state: 'visible' });
  await bob.click('#answer');
  await alice.locator('#call-text', { hasText: 'In call with bob' }).waitFor();
  // Five seconds of alice's voice reach bob's page.
  await bob.waitForFunction(() => (globalThis as any).tincanAudio.stats.receivedSamples >= 48_000 * 5, undefined, { timeout: 60_000 });
  const sent = await alice.evaluate(() => (globalThis as any).tincanAudio.stats.sentSamples as number);
  const received = new Int16Array(await bob.evaluate(() => (globalThis as any).tincanAudio.stats.received as number[]));
  await alice.click('#hangup');
  await bob.locator('#call-bar').waitFor({ state: 'hidden' });
  assert.ok(sent >= 48_000 * 3, `alice's page sent ${sent} samples`);

  // Chromium loops the capture file; look for each second bob got in two rounds of it.
  const wav = decodeWav(fs.readFileSync(speechFile));
  assert.ok(wav.ok);
  const speech = toMono48k(wav.value);
  const looped = new Int16Array(speech.length * 2);
  looped.set(speech); looped.set(speech, speech.length);
  // The control: the same speech reversed in time — same spectrum and level, no waveform.
  const reversed = looped.slice().reverse();
  const windows: number[] = [], control: number[] = [];
  for (let w = 24_000; w + 48_000 <= received.length; w += 48_000) {
    const piece = received.subarray(w, w + 48_000);
    let energy = 0;
    for (const x of piece) energy += x * x;
    if (energy / piece.length < 200 ** 2) continue; // a pause: nothing to recognise
    windows.push(alignedCorrelation(piece, looped, looped.length - piece.length).correlation);
    control.push(alignedCorrelation(piece, reversed, reversed.length - piece.length).correlation);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  t.diagnostic(`bob's page: ${received.length} samples kept; one-second windows matching alice's speech: median ${median(windows)?.toFixed(2)} (${windows.map((c) => c.toFixed(2)).join(' ')}); reversed-speech control ${median(control)?.toFixed(2)}`);
  assert.ok(windows.length >= 3 && median(windows) >= 0.5 && median(windows) >= median(control) + 0.25,
    `median correlation ${median(windows)} against a control of ${median(control)}`);
});
