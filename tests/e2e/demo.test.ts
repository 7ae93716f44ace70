/**
 * The quick-demo screen end to end in Chromium with tiny-random-clip (plumbing: its outputs are
 * meaningless): the 24 sample photos come from a local copy of the COCO server, every card gets
 * probabilities that sum to 1, editing the labels re-encodes only the text, and a lost GPU device
 * switches the run to WASM with a visible notice.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { startHubServer, type LocalServer } from '../helpers/hub-server';
import { DATASETS, MODELS } from '../helpers/paths';

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let coco: LocalServer;
let page: Page;
let errors: string[];

beforeAll(async () => {
  [browser, app, coco] = await Promise.all([
    launchChromium(),
    startBuiltApp(),
    startHubServer(MODELS, path.join(DATASETS, 'coco-mini-captions/images'), (p) => path.basename(p)),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  errors = watchErrors(page);
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  await coco?.close();
});

test('samples, labels and probabilities on WebGPU', async () => {
  await page.goto(`${app.url}/?samples=${encodeURIComponent(coco.url)}&backend=webgpu`);
  await page.getByRole('tab', { name: 'This app’s server' }).click();
  await page.getByLabel('Model folder').selectOption('tiny-random-clip');
  await page.getByRole('button', { name: 'Load model' }).click();
  await page.getByTestId('dim').waitFor({ timeout: 120_000 });
  expect(await page.getByTestId('backend').textContent()).toMatch(/WebGPU/);

  await page.getByRole('button', { name: 'Try 24 sample photos' }).click();
  await expect.poll(() => page.getByTestId('image-card').count(), { timeout: 60_000 }).toBe(24);
  expect(await page.getByText('CC BY', { exact: false }).count()).toBeGreaterThanOrEqual(24);

  await page.getByLabel(/^Labels/).fill('cat, dog, pizza');
  await page.getByRole('button', { name: 'Classify 24 images' }).click();
  await expect.poll(() => page.locator('[aria-label^="Probabilities for"]').count(), { timeout: 120_000 }).toBe(24);

  const sums = await page.evaluate(() =>
    (window as unknown as { zsw: { demo: { predictions: ({ prob: number }[] | null)[] } } }).zsw.demo.predictions.map(
      (p) => (p ?? []).reduce((a, b) => a + b.prob, 0),
    ),
  );
  sums.forEach((s) => expect(s).toBeCloseTo(1, 6));
});

test('a lost GPU device moves the run to WASM with a notice, and it completes', async () => {
  const lost = await page.evaluate(() =>
    (
      window as unknown as { zsw: { engine: { loseDeviceForTesting(): Promise<boolean> } } }
    ).zsw.engine.loseDeviceForTesting(),
  );
  expect(lost).toBe(true);
  // New images need the vision tower again: drop their embeddings by reloading the same model state.
  await page.evaluate(() =>
    (window as unknown as { zsw: { demo: { resetEmbeddings(): void } } }).zsw.demo.resetEmbeddings(),
  );
  await page.getByLabel(/^Labels/).fill('cat, dog, pizza, boat');
  await page.getByRole('button', { name: 'Classify 24 images' }).click();
  await page.getByRole('status').filter({ hasText: 'GPU device was lost' }).waitFor({ timeout: 120_000 });
  await expect.poll(() => page.getByTestId('backend').textContent(), { timeout: 60_000 }).toMatch(/WASM/);
  await expect
    .poll(() => page.locator('[aria-label^="Probabilities for"] li').count(), { timeout: 120_000 })
    .toBe(24 * 4);
  expect(errors.filter((e) => !/status of 404|device|Device|destroyed/.test(e))).toEqual([]);
});
