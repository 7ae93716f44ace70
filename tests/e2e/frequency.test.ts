/**
 * The Concept frequency view in Chromium, on toy-clip-cifar10-skewed (trained with deliberately
 * skewed class frequencies) and the 1,000 CIFAR-10 dev images on WASM:
 * - importing the model's concept-frequency.json gives slope and Pearson r within ±0.02 of the
 *   PyTorch reference (reference/frequency-analysis-dev.json, single template), shown in the page;
 * - the labels say when counts are a proxy; published LAION-400M counts load, an unmatched class
 *   ('automobile', which the table calls 'car') is fixed by hand;
 * - a click on a point opens that class's images; plot and table export;
 * - a CSV caption corpus (header, quoted commas) is counted exactly in the worker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS, MODELS } from '../helpers/paths';
import { captions, CORPUS_CONCEPTS } from '../helpers/corpus';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

const SKEWED = path.join(MODELS, 'toy-clip-cifar10-skewed');
const ref = JSON.parse(fs.readFileSync(path.join(SKEWED, 'reference/frequency-analysis-dev.json'), 'utf8')) as {
  'dev/single': { pearson_r_acc_vs_log10_freq: number; slope_acc_per_decade: number };
};

let browser: Browser;
let server: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  errors = watchErrors(page);
  await page.goto(`${server.url}/?mode=classify`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${server.url}/models/toy-clip-cifar10-skewed/`, 'server', 'toy-clip-cifar10-skewed');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);
  await page.getByTestId('folder-input').setInputFiles(path.join(DATASETS, 'cifar10/dev'));
  await page.waitForFunction(() => window.zsw.classify.dataset !== null);
  await page.getByTestId('template-choice').selectOption('simple');
  await page.getByTestId('run-classification').click();
  await page.getByTestId('acc1').waitFor({ timeout: 200_000 });
  await page.getByRole('tab', { name: 'Concept frequency' }).click();
});

afterAll(async () => {
  await browser?.close();
  await server?.server.close();
});

test('the model’s own counts: slope and r within ±0.02 of the PyTorch reference, shown in the page', async () => {
  await page.getByTestId('freq-import').setInputFiles(path.join(SKEWED, 'concept-frequency.json'));
  const stats = page.getByTestId('freq-stats');
  await expect.poll(() => stats.textContent()).toMatch(/accuracy points per 10× more data/);
  const s = (await page.evaluate(() => window.zsw.frequency.summary()))!;
  const r = ref['dev/single'];
  expect(Math.abs(s.slope_per_decade - r.slope_acc_per_decade)).toBeLessThanOrEqual(0.02);
  expect(Math.abs(s.pearson_r - r.pearson_r_acc_vs_log10_freq)).toBeLessThanOrEqual(0.02);
  expect(s.n_concepts).toBe(10);
  console.log(
    `frequency (UI, single template): slope ${s.slope_per_decade.toFixed(4)} (ref ${r.slope_acc_per_decade.toFixed(4)}), ` +
      `r ${s.pearson_r.toFixed(4)} (ref ${r.pearson_r_acc_vs_log10_freq.toFixed(4)}), p ${s.p_value.toExponential(2)}`,
  );
  expect(await stats.textContent()).toContain(`+${(s.slope_per_decade * 100).toFixed(1)} accuracy points`);
  expect(await stats.textContent()).toContain(`r = ${s.pearson_r.toFixed(3)}`);
  // Imported counts describe this model only if they are its training data: said until the user says so.
  await expect.poll(() => page.getByTestId('freq-proxy').textContent()).toMatch(/only if that is its pretraining data/);
  await page.getByTestId('freq-model-pretrain').selectOption('own-captions');
  await expect.poll(() => page.getByTestId('freq-proxy').count()).toBe(0);

  // Hover shows class, accuracy and count; a click opens the class's images.
  const points = page.getByTestId('freq-point');
  expect(await points.count()).toBe(10);
  await page.getByRole('button', { name: /^cat: accuracy/ }).hover();
  await expect.poll(() => page.getByTestId('freq-tooltip').textContent()).toMatch(/cat.*accuracy 13\.0% · count 80/);
  await page.getByRole('button', { name: /^cat: accuracy/ }).click();
  await expect.poll(() => page.getByText('Images of cat').count()).toBeGreaterThan(0);

  // The binned view and the exports.
  await page.getByTestId('freq-binned').check();
  expect(await page.locator('svg.plot rect title').count()).toBeGreaterThan(0);
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Per-class CSV' }).click(),
  ]);
  const text = fs.readFileSync((await csv.path())!, 'utf8');
  expect(text.split('\r\n')[0]).toBe('class,name,concept,count,accuracy,support');
  expect(text).toMatch(/\r\ncat,cat,cat,80,0\.130000,100\r\n/);
  const [svg] = await Promise.all([
    page.waitForEvent('download'),
    page
      .getByRole('figure')
      .filter({ hasText: 'Accuracy against concept frequency' })
      .getByRole('button', { name: 'SVG' })
      .click(),
  ]);
  expect(svg.suggestedFilename()).toMatch(/^concept-frequency.*\.svg$/);
  await page.getByTestId('freq-binned').uncheck();
});

test('published LAION-400M counts are labelled a proxy; an unmatched class is fixed by hand', async () => {
  await page.getByTestId('freq-dataset').selectOption('cifar10');
  await page.getByTestId('freq-pretrain').selectOption('laion400m');
  await page.getByTestId('freq-method').selectOption('lemmatized');
  await page.getByTestId('freq-use-published').click();
  await expect.poll(() => page.getByTestId('freq-source').textContent()).toMatch(/LAION-400M.*Udandarao/);
  await page.getByTestId('freq-model-pretrain').selectOption('unknown');
  await expect.poll(() => page.getByTestId('freq-proxy').textContent()).toMatch(/from LAION-400M.*proxy/);
  // The paper's CIFAR-10 table names the class 'car'.
  expect(await page.evaluate(() => window.zsw.frequency.summary()!.n_concepts)).toBe(9);
  await page.getByLabel('Concept for automobile').fill('car');
  await page.getByLabel('Concept for automobile').press('Enter');
  await expect.poll(() => page.evaluate(() => window.zsw.frequency.summary()!.n_concepts)).toBe(10);
  await page.getByTestId('freq-model-pretrain').selectOption('laion400m');
  await expect.poll(() => page.getByTestId('freq-proxy').count()).toBe(0);
});

test('a CSV caption corpus is counted exactly in the worker', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-corpus-'));
  const file = path.join(dir, 'captions.csv');
  const expected: Record<string, number> = Object.fromEntries(CORPUS_CONCEPTS.map((c) => [c, 0]));
  const lines = ['id,caption,source'];
  let i = 0;
  for (const { caption, mentions } of captions(20_000, 11)) {
    for (const m of mentions) expected[m]! += 1;
    lines.push(`${i++},"${caption}, indeed",web`); // quoted, with a comma inside
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  await page.getByTestId('freq-captions').setInputFiles(file);
  await expect
    .poll(() => page.getByTestId('freq-source').textContent(), { timeout: 60_000 })
    .toMatch(/20,000 captions of captions\.csv/);
  const counts = await page.evaluate(
    () => (window.zsw.frequency as unknown as { counts: Record<string, number> }).counts,
  );
  // Classes' prompt names, folder names and chosen concepts ('car' for automobile, from above) are all counted.
  expect(Object.fromEntries(CORPUS_CONCEPTS.map((c) => [c, counts[c]]))).toEqual(expected);
  expect(counts.car).toBe(0);
  expect(errors).toEqual([]);
  fs.rmSync(dir, { recursive: true, force: true });
});
