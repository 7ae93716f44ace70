/**
 * The embedding cache in Chromium's real IndexedDB (toy-clip-cifar10, WASM, the 1,000 dev images):
 * - a run reloaded at about 50% resumes: the image encoder runs only for the images not yet cached
 *   (counted in the model worker), and the final results equal an uninterrupted run's exactly;
 * - a re-run with another template set encodes no image; a fresh page reuses the cached prompts too;
 * - with the origin's quota forced tiny, the run completes in memory with a visible warning;
 * - the storage panel shows the cache per model and dataset and clears it.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

const DEV = path.join(DATASETS, 'cifar10/dev');
const N = 1000;

interface Results {
  metrics: { acc1: number; acc5: number; mean_per_class_recall: number; per_class: unknown; confusion_matrix: unknown };
  predictions: { file: string; pred: string; top5: [string, number][] }[];
  cache: { image_hits: number; image_misses: number; text_hits: number; text_misses: number; warning?: string };
}

let browser: Browser;
let server: Awaited<ReturnType<typeof startBuiltApp>>;
let reference: Results;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startBuiltApp()]);
});

afterAll(async () => {
  await browser?.close();
  await server?.server.close();
});

/** A page in `context` with the toy model loaded on WASM and the dev folder picked. */
async function openDev(context: BrowserContext, page?: Page): Promise<Page> {
  const p = page ?? (await context.newPage());
  if (!page) await p.goto(`${server.url}/?mode=classify`);
  await p.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${server.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  expect(await p.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);
  await p.getByTestId('folder-input').setInputFiles(DEV);
  await expect.poll(() => p.getByTestId('dataset-summary').textContent()).toMatch(/1000 images in 10 classes/);
  await p.getByTestId('template-choice').selectOption('simple');
  return p;
}

async function runAndWait(p: Page): Promise<Results> {
  await p.getByTestId('run-classification').click();
  await p.waitForFunction(() => !window.zsw.classify.running && window.zsw.classify.run !== null, null, {
    timeout: 200_000,
  });
  return (await p.evaluate(() => window.zsw.classify.resultsJson())) as unknown as Results;
}

const encodedImages = (p: Page) => p.evaluate(() => window.zsw.engine.encodeCounts().then((c) => c.images));

function expectSameResults(a: Results, b: Results) {
  expect(b.metrics.acc1).toBe(a.metrics.acc1);
  expect(b.metrics.acc5).toBe(a.metrics.acc5);
  expect(b.metrics.mean_per_class_recall).toBe(a.metrics.mean_per_class_recall);
  expect(b.metrics.confusion_matrix).toEqual(a.metrics.confusion_matrix);
  // Every image: same prediction and the same top-5 probabilities (rounded to 1e-6 in the JSON).
  expect(b.predictions).toEqual(a.predictions);
}

test('uninterrupted reference run (fresh profile: everything encoded)', async () => {
  const context = await browser.newContext();
  const page = await openDev(context);
  reference = await runAndWait(page);
  expect(await encodedImages(page)).toBe(N);
  expect(reference.cache).toMatchObject({ image_hits: 0, image_misses: N, text_hits: 0, text_misses: 10 });
  await context.close();
});

test('reload at about 50%, then resume: only uncached images are encoded, results identical', async () => {
  const context = await browser.newContext();
  let page = await openDev(context);
  const errors = watchErrors(page);
  await page.getByTestId('run-classification').click();
  await page.waitForFunction(
    () => {
      const p = window.zsw.classify.progress;
      return p?.phase === 'images' && p.done >= 500;
    },
    null,
    { timeout: 120_000, polling: 50 },
  );
  await page.reload();

  // After the reload the app finds the interrupted run and says how far it got.
  await page.waitForFunction(() => 'zsw' in window && window.zsw.storage.interrupted.length === 1);
  const interrupted = await page.evaluate(() => window.zsw.storage.interrupted[0]!);
  expect(interrupted.dataset).toBe('dev');
  expect(interrupted.totalImages).toBe(N);
  expect(interrupted.storedImages).toBeGreaterThanOrEqual(400);
  expect(interrupted.storedImages).toBeLessThan(N);
  await expect.poll(() => page.getByTestId('interrupted-run').textContent()).toMatch(/dev.*toy-clip-cifar10/s);
  const cached = await page.evaluate(async () => {
    const s = window.zsw.storage;
    return s.models.find((m) => m.tower === 'vision')!.count;
  });
  // The run record is updated in the same transaction as each batch of embeddings.
  expect(cached).toBe(interrupted.storedImages);

  page = await openDev(context, page);
  const resumed = await runAndWait(page);
  expect(await encodedImages(page)).toBe(N - cached);
  expect(resumed.cache).toMatchObject({ image_hits: cached, image_misses: N - cached, text_hits: 10, text_misses: 0 });
  expectSameResults(reference, resumed);
  console.log(`reloaded with ${cached}/${N} image embeddings cached; the resumed run encoded ${N - cached}`);
  await page.evaluate(() => window.zsw.storage.refresh());
  expect(await page.evaluate(() => window.zsw.storage.interrupted.length)).toBe(0);
  await expect.poll(() => page.getByTestId('interrupted-run').count()).toBe(0);

  // Other templates: prompts are encoded, no image is.
  await page.getByTestId('template-choice').selectOption('openai7');
  const other = await runAndWait(page);
  expect(await encodedImages(page)).toBe(N - cached);
  expect(other.cache).toMatchObject({ image_hits: N, image_misses: 0, text_hits: 0, text_misses: 70 });

  // A fresh page (new workers, empty memory): images and prompts both come from IndexedDB.
  const fresh = await openDev(context);
  const again = await runAndWait(fresh);
  expect(await encodedImages(fresh)).toBe(0);
  expect(again.cache).toMatchObject({ image_hits: N, image_misses: 0, text_hits: 10, text_misses: 0 });
  expectSameResults(reference, again);

  // The storage panel: per model and dataset, then clear the image cache of this model.
  await fresh.getByTestId('mode-storage').click();
  const rows = fresh.getByTestId('storage-model');
  await expect.poll(() => rows.count()).toBe(2); // the vision and the text tower
  const imageRow = rows.filter({ hasText: 'images' });
  expect(await imageRow.getByTestId('storage-count').textContent()).toBe('1,000');
  expect(await imageRow.textContent()).toMatch(/dev: 1,000 images/);
  await expect.poll(() => fresh.getByTestId('storage-estimate').textContent()).toMatch(/This site uses .* of the/);
  await imageRow.getByRole('button', { name: /Clear the cached image embeddings/ }).click();
  await expect.poll(() => rows.count()).toBe(1);
  expect(await fresh.evaluate(() => window.zsw.storage.models.map((m) => m.tower))).toEqual(['text']);
  expect(errors).toEqual([]);
  await context.close();
});

test('quota exceeded: the run continues in memory with a visible warning and full results', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/?mode=classify`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: 64 * 1024 });
  await openDev(context, page);
  const results = await runAndWait(page);
  expect(results.cache.warning).toMatch(/refused|quota|failed/i);
  await expect.poll(() => page.getByTestId('storage-warning').textContent()).toMatch(/continues in memory/);
  expectSameResults(reference, results);
  await context.close();
});
