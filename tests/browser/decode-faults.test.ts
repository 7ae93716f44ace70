/**
 * Decoding in the model worker (real Chromium, tiny-random-clip on WASM): an EXIF-rotated photo is
 * preprocessed upright, and files that cannot be evaluated are refused with their specific reason.
 * The photos are drawn and JPEG-encoded in the page; the EXIF block is written here.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from '../helpers/browser';
import { startAppServer } from '../helpers/app-server';

let browser: Browser;
let app: Awaited<ReturnType<typeof startAppServer>>;
let page: Page;

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startAppServer()]);
  ({ page } = await openHarness(browser, app.url));
  await page.evaluate(async (base) => {
    const h = window.harness;
    await h.api.load(
      { kind: 'url', id: 'tiny', baseUrl: base, origin: 'server' },
      { backend: 'wasm', dtype: 'auto' },
      h.proxy(() => {}),
      h.proxy(() => {}),
    );
  }, `${app.url}/models/tiny-random-clip/`);
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
});

test('an EXIF-rotated photo is preprocessed upright', async () => {
  const d = await page.evaluate(async () => {
    // An asymmetric 96×48 picture: a gradient, a dark left third, a bright disc on the right.
    const up = new OffscreenCanvas(96, 48);
    const g = up.getContext('2d')!;
    const grad = g.createLinearGradient(0, 0, 96, 48);
    grad.addColorStop(0, '#204080');
    grad.addColorStop(1, '#f0c030');
    g.fillStyle = grad;
    g.fillRect(0, 0, 96, 48);
    g.fillStyle = '#000';
    g.fillRect(0, 0, 32, 48);
    g.fillStyle = '#fff';
    g.beginPath();
    g.arc(72, 24, 14, 0, 2 * Math.PI);
    g.fill();
    // Stored as a camera would: turned 90° counter-clockwise, with EXIF orientation 6 ("rotate 90° CW").
    const turned = new OffscreenCanvas(48, 96);
    const t = turned.getContext('2d')!;
    t.translate(0, 96);
    t.rotate(-Math.PI / 2);
    t.drawImage(up, 0, 0);
    const jpeg = async (c: OffscreenCanvas) =>
      new Uint8Array(await (await c.convertToBlob({ type: 'image/jpeg', quality: 0.95 })).arrayBuffer());
    const upright = await jpeg(up);
    const plain = await jpeg(turned);
    const tiff = [0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
    const app1 = [0xff, 0xe1, 0, 2 + 6 + tiff.length, 0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
    const exif = new Uint8Array([0xff, 0xd8, ...app1, ...plain.subarray(2)]);
    const h = window.harness;
    const px = (name: string, b: Uint8Array<ArrayBuffer>) =>
      h.api.pixelValues({ name, blob: new Blob([b], { type: 'image/jpeg' }) }, 'pil');
    const [a, e, p] = [await px('upright.jpg', upright), await px('exif.jpg', exif), await px('plain.jpg', plain)];
    const mad = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + Math.abs(v - y[i]!), 0) / x.length;
    return { exif: mad(e, a), plain: mad(p, a) };
  });
  console.log(`mean |Δ pixel_values| vs upright: EXIF-rotated ${d.exif.toFixed(4)}, unrotated ${d.plain.toFixed(4)}`);
  expect(d.exif).toBeLessThan(0.05); // JPEG re-encoding only
  expect(d.plain).toBeGreaterThan(10 * d.exif);
});

test('files that cannot be evaluated are refused with their reason', async () => {
  const reasons = await page.evaluate(async () => {
    const h = window.harness;
    const files: [string, BlobPart][] = [
      ['empty.jpg', new Uint8Array(0)],
      ['notes.jpg', 'hello, I am text'],
      ['vector.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'],
    ];
    const out: string[] = [];
    for (const [name, body] of files) {
      try {
        await h.api.pixelValues({ name, blob: new Blob([body]) }, 'pil');
        out.push(`${name}: decoded`);
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    return out;
  });
  expect(reasons[0]).toMatch(/^\[image-decode\] empty\.jpg: empty file \(0 bytes\)$/);
  expect(reasons[1]).toMatch(/^\[image-decode\] notes\.jpg: not an image: starts with “hello, I am text”$/);
  expect(reasons[2]).toMatch(/^\[image-decode\] vector\.svg: not evaluated: SVG is a vector image/);
});
