/**
 * Environment faults in Chromium on the production build (150 CIFAR-10 images, WASM unless said):
 * cancel then start again (nothing encoded twice, nothing lost); a second model loaded while a run is
 * going (the run stops saying why; the next run uses the new model); two tabs on one database while
 * a third upgrades its schema (the open tab steps aside and reopens; a tab of the older app opens the
 * newer database); the WebGPU device lost mid-run (the run switches to WASM and completes; embeddings
 * made after the switch are cached under WASM; the text tower is made again on WASM from its file). Quota
 * exceeded and reload mid-run are in cache-resume.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { serveBuiltApp, type BuiltApp } from '../../scripts/serve-built';
import { DATASETS, MODELS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import { isBuildFresh } from '../helpers/built-app';
import { TEST_DIST } from '../helpers/app-server';
import '../helpers/zsw';

const OUT_DIR = TEST_DIST;
const PER_CLASS = 30;
const CLASSES = ['cat', 'dog', 'ship'];
const N = PER_CLASS * CLASSES.length;
let browser: Browser;
let app: BuiltApp;
let tmp: string;
let data: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-env-'));
  data = path.join(tmp, 'small');
  for (const c of CLASSES) {
    fs.mkdirSync(path.join(data, c), { recursive: true });
    for (const f of fs
      .readdirSync(path.join(DATASETS, 'cifar10/dev', c))
      .sort()
      .slice(0, PER_CLASS)) {
      fs.copyFileSync(path.join(DATASETS, 'cifar10/dev', c, f), path.join(data, c, f));
    }
  }
  [browser, app] = await Promise.all([
    launchChromium(),
    serveBuiltApp({ outDir: OUT_DIR, modelsDir: MODELS, rebuild: !isBuildFresh(OUT_DIR) }),
  ]);
}, 600_000); // includes a production build when the sources changed

afterAll(async () => {
  await browser?.close();
  await app?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function openApp(context: BrowserContext, model = 'toy-clip-cifar10', backend = 'wasm'): Promise<Page> {
  const p = await context.newPage();
  await p.goto(`${app.url}/?mode=classify`);
  await p.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${app.url}/models/${model}/`, 'server', model);
  expect(await p.evaluate(([s, b]) => window.zsw.engine.load(s, b, 'auto'), [source, backend] as const)).toBe(true);
  await p.getByTestId('folder-input').setInputFiles(data, { timeout: 120_000 });
  await expect.poll(() => p.getByTestId('dataset-summary').textContent()).toMatch(`${N} images in 3 classes`);
  await p.getByTestId('template-choice').selectOption('simple');
  return p;
}

const encoded = (p: Page) => p.evaluate(() => window.zsw.engine.encodeCounts().then((c) => c.images));
const imagesDone = (p: Page, n: number) =>
  p.waitForFunction(
    (k) => window.zsw.classify.progress?.phase === 'images' && window.zsw.classify.progress.done >= k,
    n,
    { timeout: 120_000, polling: 20 },
  );
async function finish(p: Page): Promise<{ dataset: { evaluated: number }; cache: { image_misses: number } }> {
  await p.waitForFunction(() => !window.zsw.classify.running, null, { timeout: 180_000 });
  return (await p.evaluate(() => window.zsw.classify.resultsJson())) as never;
}

test('cancel, then start again: completes, and no image is encoded twice', async () => {
  const context = await browser.newContext();
  const page = await openApp(context);
  const errors = watchErrors(page);
  await page.getByTestId('run-classification').click();
  await imagesDone(page, 40);
  await page.getByRole('group', { name: 'Encoding images' }).getByRole('button', { name: 'Cancel' }).click();
  await page.waitForFunction(() => !window.zsw.classify.running);
  await expect.poll(() => page.getByRole('status').filter({ hasText: 'Cancelled' }).count()).toBe(1);
  const before = await encoded(page);
  expect(before).toBeGreaterThanOrEqual(40);
  expect(before).toBeLessThan(N);

  await page.getByTestId('run-classification').click();
  const res = await finish(page);
  expect(res.dataset.evaluated).toBe(N);
  expect(await encoded(page)).toBe(N); // the cancelled run's embeddings were kept
  expect(errors).toEqual([]);
  await context.close();
}, 600_000);

test('a second model loaded while a run is going: the run stops saying why, the next run uses it', async () => {
  const context = await browser.newContext();
  const page = await openApp(context);
  await page.getByTestId('run-classification').click();
  await imagesDone(page, 16);
  const tiny = urlSource(`${app.url}/models/tiny-random-clip/`, 'server', 'tiny-random-clip');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), tiny)).toBe(true);
  await page.waitForFunction(() => !window.zsw.classify.running, null, { timeout: 120_000 });
  const err = await page.evaluate(() => window.zsw.classify.error);
  expect(err?.message).toMatch(/another model was loaded/);
  await expect.poll(() => page.getByText(/another model was loaded/).count()).toBeGreaterThan(0);

  await page.getByTestId('run-classification').click();
  const res = (await finish(page)) as unknown as {
    dataset: { evaluated: number };
    manifest: unknown;
    model: { id: string; embedding_dim?: number };
  };
  expect(res.dataset.evaluated).toBe(N);
  expect(res.model.id).toBe('tiny-random-clip');
  await context.close();
}, 600_000);

test('two tabs on one database, and a third that upgrades its schema: the open tab reopens', async () => {
  const context = await browser.newContext();
  const a = await openApp(context);
  await a.getByTestId('run-classification').click();
  await finish(a);
  const b = await context.newPage();
  await b.goto(`${app.url}/?mode=storage`);
  await b.waitForFunction(() => 'zsw' in window);
  await b.evaluate(() => window.zsw.storage.refresh());
  expect(await b.evaluate(() => window.zsw.storage.models.length)).toBe(2);

  // A newer app version upgrades the database while both tabs hold it open: it must not be blocked.
  const upgraded = await b.evaluate(
    () =>
      new Promise<string>((resolve) => {
        const req = indexedDB.open('zsw-embeddings', 99);
        req.onupgradeneeded = () => req.result.createObjectStore('added-by-a-newer-version');
        req.onblocked = () => resolve('blocked');
        req.onsuccess = () => {
          req.result.close();
          resolve(`v${req.result.version}`);
        };
        req.onerror = () => resolve(String(req.error));
      }),
  );
  expect(upgraded).toBe('v99');

  // Tab A goes on: a run with other images writes to the reopened database without a warning.
  const other = path.join(tmp, 'other');
  fs.mkdirSync(path.join(other, 'frog'), { recursive: true });
  fs.mkdirSync(path.join(other, 'horse'), { recursive: true });
  for (const c of ['frog', 'horse']) {
    for (const f of fs
      .readdirSync(path.join(DATASETS, 'cifar10/dev', c))
      .sort()
      .slice(0, 5)) {
      fs.copyFileSync(path.join(DATASETS, 'cifar10/dev', c, f), path.join(other, c, f));
    }
  }
  // Back to tab A, as the user would (a background tab runs no animation frames, which the pick waits for).
  await a.bringToFront();
  await a.getByTestId('folder-input').setInputFiles(other, { timeout: 120_000 });
  await expect.poll(() => a.getByTestId('dataset-summary').textContent()).toMatch('10 images in 2 classes');
  await a.getByTestId('run-classification').click();
  await finish(a);
  expect(await a.evaluate(() => window.zsw.classify.storageWarning)).toBeNull();
  // Tab B (this app, older than the database now) still reads it.
  await b.reload();
  await b.waitForFunction(() => 'zsw' in window);
  await b.evaluate(() => window.zsw.storage.refresh());
  const vision = await b.evaluate(() => window.zsw.storage.models.find((m) => m.tower === 'vision')?.count);
  expect(vision).toBe(N + 10);
  await context.close();
}, 600_000);

// The device goes with a batch in flight on the GPU: onnxruntime-web 1.30's JSEP build never settles that run
// and then refuses every later run in the worker, so the page reloads the model on WASM in a fresh worker and the
// run encodes the images not embedded yet there.
test('WebGPU device lost mid-run: switches to WASM, completes, caches later embeddings under WASM', async () => {
  const context = await browser.newContext();
  const page = await openApp(context, 'tiny-random-clip', 'webgpu');
  expect(await page.evaluate(() => window.zsw.engine.info?.backend)).toBe('webgpu');
  await page.getByTestId('run-classification').click();
  await imagesDone(page, 32);
  expect(await page.evaluate(() => window.zsw.engine.loseDeviceForTesting())).toBe(true);
  const res = await finish(page);
  expect(await page.evaluate(() => window.zsw.classify.error)).toBeNull();
  expect(res.dataset.evaluated).toBe(N);
  await expect.poll(() => page.evaluate(() => window.zsw.engine.notices.join(' '))).toMatch(/GPU device was lost/);
  expect(await page.evaluate(() => window.zsw.engine.info?.backend)).toBe('wasm');
  await page.evaluate(() => window.zsw.storage.refresh());
  const gpuKey = await page.evaluate(
    () => window.zsw.storage.models.find((m) => m.tower === 'vision' && m.fingerprint.includes(':webgpu'))!.fingerprint,
  );
  const wasmKey = gpuKey.replace(':webgpu', ':wasm');
  const onGpu = await page.evaluate((k) => window.zsw.storage.store.countImages(k), gpuKey);
  const onWasm = await page.evaluate((k) => window.zsw.storage.store.countImages(k), wasmKey);
  const notices = await page.evaluate(() => window.zsw.engine.notices.join(' | '));
  console.log(`device lost: ${onGpu} image embeddings cached under WebGPU, ${onWasm} under WASM; notices: ${notices}`);
  expect(onGpu).toBeGreaterThanOrEqual(32);
  expect(onWasm).toBeGreaterThan(0);
  expect(onGpu + onWasm).toBe(N);
  // The text tower's WebGPU session went with the device; its WASM one is made from the file at the next text.
  expect(await page.evaluate(() => window.zsw.engine.textTower())).toEqual({
    resident: false,
    loadMs: [],
    loadedFrom: [],
  });
  const dim = await page.evaluate(async () => (await window.zsw.engine.embedTexts(['a photo of a cat'])).length);
  expect(dim).toBe(await page.evaluate(() => window.zsw.engine.info!.embeddingDim));
  const tower = await page.evaluate(() => window.zsw.engine.textTower());
  expect(tower?.resident).toBe(true);
  // Both towers made on WASM from the download cache, split as they are read (core/onnx-split.ts).
  expect(tower?.loadedFrom).toEqual(['pieces']);
  expect(await page.evaluate(() => window.zsw.engine.visionRebuiltFrom())).toBe('pieces');
  await context.close();
}, 600_000);
