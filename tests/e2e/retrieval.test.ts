/**
 * Text↔image retrieval in Chromium with toy-clip-cifar10 on WASM, on COCO-mini (239 images, 1,195
 * captions in captions.coco.json):
 * - parity with the PyTorch reference (reference/retrieval-coco-mini.json): text→image Recall@K within
 *   ±0.5 points, image→text within ±1 point, mean ranks within ±1 %, ≥ 95 % of per-caption ranks identical;
 * - a typed search returns the images the evaluation retrieved for the same caption, "more like this"
 *   leaves the image itself out, the failure browser lists the misses, both exports download;
 * - a re-run encodes nothing (embedding cache);
 * - a folder with a caption for a missing image, an uncaptioned image and a corrupt image: each is
 *   named, and the run completes;
 * - same-name .txt captions, and a JSONL file picked instead, go through the same intake.
 * The toy model knows only CIFAR-10 words, so its retrieval is near chance: this checks parity, not quality.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS, MODELS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

const COCO = path.join(DATASETS, 'coco-mini-captions');
const ref = JSON.parse(
  fs.readFileSync(path.join(MODELS, 'toy-clip-cifar10/reference/retrieval-coco-mini.json'), 'utf8'),
) as { metrics: Record<string, number>; per_caption_rank: number[]; per_image_rank: number[] };

interface Results {
  metrics: Record<string, number>;
  per_query: {
    text_to_image: { caption: string; image: string; rank: number }[];
    image_to_text: { image: string; rank: number }[];
  };
  cache: { image_misses: number; text_misses: number; image_hits: number };
  dataset: { failed: { file: string; reason: string }[] };
}

let browser: Browser;
let server: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];
let results: Results;
let badDir: string;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  errors = watchErrors(page);
  await page.goto(`${server.url}/?mode=retrieve`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${server.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);

  // Three COCO images, one corrupt file, one image no caption names, one caption for a missing image.
  badDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-retrieval-'));
  const meta = JSON.parse(fs.readFileSync(path.join(COCO, 'images-meta.json'), 'utf8')) as {
    image: string;
    captions: string[];
  }[];
  const rows = ['file,caption'];
  for (const m of meta.slice(0, 3)) {
    fs.copyFileSync(path.join(COCO, 'images', path.basename(m.image)), path.join(badDir, path.basename(m.image)));
    for (const c of m.captions) rows.push(`${path.basename(m.image)},"${c.replaceAll('"', '""')}"`);
  }
  fs.copyFileSync(path.join(COCO, 'images', path.basename(meta[3]!.image)), path.join(badDir, 'uncaptioned.jpg'));
  fs.writeFileSync(path.join(badDir, 'broken.jpg'), 'not a jpeg');
  rows.push('broken.jpg,a broken file', 'missing.jpg,an image that is not there');
  fs.writeFileSync(path.join(badDir, 'captions.csv'), rows.join('\n'));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.server.close();
  if (badDir) fs.rmSync(badDir, { recursive: true, force: true });
});

test('COCO-mini: Recall@K, mean ranks and per-caption ranks match the PyTorch reference', async () => {
  await page.getByTestId('retrieval-folder-input').setInputFiles(COCO);
  await expect
    .poll(() => page.getByTestId('retrieval-summary').textContent())
    .toMatch(/239 images · 1,195 captions of 239 images from\s+captions\.coco\.json/);
  await page.getByTestId('run-retrieval').click();
  await page.getByTestId('retrieval-metrics').waitFor({ timeout: 300_000 });
  results = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as unknown as Results;
  const m = results.metrics;
  for (const k of [1, 5, 10]) {
    // Tolerances from the issue: ±0.5 points text→image, ±1 point image→text.
    expect(Math.abs(m[`text_to_image_R@${k}`]! - ref.metrics[`text_to_image_R@${k}`]!)).toBeLessThanOrEqual(0.005);
    expect(Math.abs(m[`image_to_text_R@${k}`]! - ref.metrics[`image_to_text_R@${k}`]!)).toBeLessThanOrEqual(0.01);
  }
  for (const d of ['text_to_image', 'image_to_text']) {
    const key = `${d}_mean_rank`;
    expect(Math.abs(m[key]! - ref.metrics[key]!) / ref.metrics[key]!).toBeLessThanOrEqual(0.01);
  }
  const t2i = results.per_query.text_to_image;
  expect(t2i).toHaveLength(1195);
  expect(results.per_query.image_to_text).toHaveLength(239);
  const same = t2i.filter((q, i) => q.rank === ref.per_caption_rank[i]).length;
  const sameImg = results.per_query.image_to_text.filter((q, i) => q.rank === ref.per_image_rank[i]).length;
  console.log(
    `retrieval parity: t2i R@1/5/10 ${[1, 5, 10].map((k) => m[`text_to_image_R@${k}`]!.toFixed(4)).join('/')} ` +
      `(ref ${[1, 5, 10].map((k) => ref.metrics[`text_to_image_R@${k}`]!.toFixed(4)).join('/')}), ` +
      `i2t ${[1, 5, 10].map((k) => m[`image_to_text_R@${k}`]!.toFixed(4)).join('/')} ` +
      `(ref ${[1, 5, 10].map((k) => ref.metrics[`image_to_text_R@${k}`]!.toFixed(4)).join('/')}), ` +
      `mean rank t2i ${m.text_to_image_mean_rank} (ref ${ref.metrics.text_to_image_mean_rank!.toFixed(4)}), ` +
      `i2t ${m.image_to_text_mean_rank} (ref ${ref.metrics.image_to_text_mean_rank!.toFixed(4)}); ` +
      `identical ranks: ${same}/1195 captions, ${sameImg}/239 images`,
  );
  expect(same / 1195).toBeGreaterThanOrEqual(0.95);
  // The page shows the same numbers.
  const row = await page.getByTestId('t2i-row').textContent();
  expect(row).toContain(`${(100 * m['text_to_image_R@10']!).toFixed(1)}%`);
  expect(errors).toEqual([]);
});

test('search: a typed caption retrieves what the evaluation retrieved for it; more like this; failures; exports', async () => {
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-retrieval-csv').click()]);
  const lines = fs
    .readFileSync((await csv.path())!, 'utf8')
    .trimEnd()
    .split('\r\n');
  expect(lines).toHaveLength(1 + 1195 + 239);
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-retrieval-json').click()]);
  expect(JSON.parse(fs.readFileSync((await json.path())!, 'utf8')).metrics).toEqual(results.metrics);

  // The first caption: its top-5 in the CSV must be the first five results of a search for its text.
  const first = results.per_query.text_to_image[0]!;
  const retrieved = lines[1]!.split(',').slice(-5);
  await page.getByTestId('search-input').fill(first.caption);
  await page.getByTestId('search-input').press('Enter');
  const list = page.getByTestId('search-results').locator('li');
  await expect.poll(() => list.count()).toBe(24);
  const shown = await list.locator('.file').allTextContents();
  expect(shown.slice(0, 5).map((p) => p.split('/').pop())).toEqual(retrieved.map((p) => p.split('/').pop()));
  expect(await page.getByTestId('search-timing').textContent()).toMatch(/top 24 of 239 images in \d+ ms/);

  // More like this: the image it starts from is left out of its own results.
  const target = shown[0]!;
  await list
    .first()
    .getByRole('button', { name: /More like/ })
    .click();
  await expect.poll(() => page.getByTestId('search-query').textContent()).toContain(target);
  const similar = await page.getByTestId('search-results').locator('.file').allTextContents();
  expect(similar).toHaveLength(24);
  expect(similar).not.toContain(target);

  // The failure browser lists exactly the captions whose image is not first.
  await page.getByTestId('tab-text-failures').click();
  const misses = results.per_query.text_to_image.filter((q) => q.rank > 1).length;
  await expect
    .poll(() => page.getByTestId('failure-count').textContent())
    .toBe(`${misses.toLocaleString('en')} of 1,195`);
  expect(await page.getByTestId('failure-list').locator(':scope > li').count()).toBe(12);
  await page.getByTestId('tab-image-failures').click();
  const imageMisses = results.per_query.image_to_text.filter((q) => q.rank > 1).length;
  await expect.poll(() => page.getByTestId('failure-count').textContent()).toBe(`${imageMisses} of 239`);
  expect(await page.getByTestId('failure-list').getByText('Its captions').count()).toBe(12);
  expect(errors).toEqual([]);
});

test('a re-run takes every embedding from the cache', async () => {
  const before = await page.evaluate(() => window.zsw.engine.encodeCounts());
  expect(await page.evaluate(() => window.zsw.retrieve.start())).toBe(true);
  const after = await page.evaluate(() => window.zsw.engine.encodeCounts());
  expect(after).toEqual(before);
  const again = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as unknown as Results;
  expect(again.cache).toMatchObject({ image_misses: 0, text_misses: 0, image_hits: 239 });
  expect(again.metrics).toEqual(results.metrics);
});

test('missing, uncaptioned and corrupt images are named; the run completes without them', async () => {
  await page.getByTestId('retrieval-folder-input').setInputFiles(badDir);
  const warn = async () => (await page.getByTestId('caption-warnings').textContent())?.replace(/\s+/g, ' ');
  await expect
    .poll(warn)
    .toMatch(/1 image named in captions\.csv is not in the folder \(1 caption left out: missing\.jpg\)/);
  expect(await warn()).toMatch(/1 image has no caption \(uncaptioned\.jpg\)/);
  await page.getByTestId('run-retrieval').click();
  await page.getByTestId('retrieval-metrics').waitFor({ timeout: 120_000 });
  expect(await page.getByTestId('retrieval-failed').textContent()).toMatch(/broken\.jpg/);
  const r = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as unknown as Results & {
    dataset: { evaluated_images: number; searchable_images: number; captions: number };
  };
  expect(r.dataset.failed.map((f) => f.file)).toEqual(['broken.jpg']);
  expect(r.dataset).toMatchObject({ evaluated_images: 3, searchable_images: 4, captions: 15 });
  expect(r.per_query.text_to_image).toHaveLength(15);
});

test('same-name .txt captions are found in the folder; a JSONL caption file can replace them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-sidecar-'));
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(COCO, 'images-meta.json'), 'utf8')) as {
      image: string;
      captions: string[];
    }[];
    const jsonl: string[] = [];
    meta.slice(0, 4).forEach((m, i) => {
      fs.copyFileSync(path.join(COCO, 'images', path.basename(m.image)), path.join(dir, `${i}.jpg`));
      fs.writeFileSync(path.join(dir, `${i}.txt`), m.captions.slice(0, 2).join('\n'));
      jsonl.push(JSON.stringify({ file: `${i}.jpg`, caption: m.captions }));
    });
    const jsonlPath = path.join(os.tmpdir(), `zsw-captions-${Date.now()}.jsonl`);
    fs.writeFileSync(jsonlPath, jsonl.join('\n'));
    await page.getByTestId('retrieval-folder-input').setInputFiles(dir);
    await expect
      .poll(() => page.getByTestId('retrieval-summary').textContent())
      .toMatch(/4 images · 8 captions of 4 images from\s+same-name \.txt files/);
    await page.getByTestId('run-retrieval').click();
    await page.getByTestId('retrieval-metrics').waitFor({ timeout: 120_000 });
    let r = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as unknown as Results;
    expect(r.per_query.text_to_image).toHaveLength(8);
    expect(r.per_query.text_to_image[0]).toMatchObject({ caption: meta[0]!.captions[0], image: '0.jpg' });

    await page.getByTestId('captions-input').setInputFiles(jsonlPath);
    await expect
      .poll(() => page.getByTestId('retrieval-summary').textContent())
      .toMatch(/20 captions of 4 images from\s+zsw-captions-\d+\.jsonl/);
    await page.getByTestId('run-retrieval').click();
    await page.getByTestId('retrieval-metrics').waitFor({ timeout: 120_000 });
    r = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as unknown as Results;
    expect(r.per_query.text_to_image).toHaveLength(20);
    expect(r.per_query.image_to_text.map((q) => q.image)).toEqual(['0.jpg', '1.jpg', '2.jpg', '3.jpg']);
    fs.rmSync(jsonlPath);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
