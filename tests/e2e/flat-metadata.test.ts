/**
 * A flat folder labelled by its metadata, in Chromium with toy-clip-cifar10 on WASM: 100 CIFAR-10 dev
 * images (10 per class) copied flat under neutral names (`img-017.jpg`, shuffled, so neither name nor
 * order says the class) with a `metadata.csv` giving each one's class, plus one image without a row
 * and one with an empty label. The same 100 images in class subfolders are run first; the flat run
 * must find the 10 classes from the labels, list the two unlabelled images by name, leave them out,
 * and give the same accuracy and the same per-image predictions. Then the same images in Dollar Street's
 * layout (a folder per photo, `imageRelPath` and a `topics` column): the labels come from the metadata (its
 * one subfolder cannot be the classes), the user names the column, and the run gives the class-folder run's
 * metrics.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

const PER_CLASS = 10;
const REGIONS = ['asia', 'africa', 'europe', 'the americas'];

let browser: Browser;
let server: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];
let dir: string;
/** Flat name → original `class/file`. */
const original = new Map<string, string>();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-flat-'));
  const dev = path.join(DATASETS, 'cifar10/dev');
  const classes = fs.readdirSync(dev).filter((c) => fs.statSync(path.join(dev, c)).isDirectory());
  const filesOf = (c: string) => fs.readdirSync(path.join(dev, c)).sort();
  const used = classes.sort().flatMap((c) =>
    filesOf(c)
      .slice(0, PER_CLASS)
      .map((f) => `${c}/${f}`),
  );
  // The 11th image of the first two classes: one without a row, one with an empty label.
  const extra = classes.slice(0, 2).map((c) => `${c}/${filesOf(c)[PER_CLASS]!}`);
  const nested = path.join(dir, 'nested');
  const flat = path.join(dir, 'flat');
  fs.mkdirSync(flat, { recursive: true });
  const rows = ['file,label,region'];
  used.forEach((p, i) => {
    fs.mkdirSync(path.join(nested, path.dirname(p)), { recursive: true });
    fs.copyFileSync(path.join(dev, p), path.join(nested, p));
    const name = `img-${String((i * 37) % used.length).padStart(3, '0')}.jpg`; // 37 is prime to 100: a shuffle
    original.set(name, p);
    fs.copyFileSync(path.join(dev, p), path.join(flat, name));
    rows.push(`${name},${p.split('/')[0]},${REGIONS[i % REGIONS.length]}`);
  });
  // Dollar Street's own layout: one folder per photo (assets/<id>/<file>), imageRelPath and a label column.
  const ds = path.join(dir, 'dollar-street');
  const dsRows = ['imageRelPath,topics'];
  used.forEach((p, i) => {
    const rel = `assets/${String((i * 37) % used.length).padStart(3, '0')}/photo.jpg`;
    fs.mkdirSync(path.join(ds, path.dirname(rel)), { recursive: true });
    fs.copyFileSync(path.join(dev, p), path.join(ds, rel));
    dsRows.push(`${rel},${p.split('/')[0]}`);
  });
  fs.writeFileSync(path.join(ds, 'metadata.csv'), dsRows.join('\n') + '\n');
  fs.copyFileSync(path.join(dev, extra[0]!), path.join(flat, 'no-row.jpg'));
  fs.copyFileSync(path.join(dev, extra[1]!), path.join(flat, 'no-label.jpg'));
  rows.push('no-label.jpg,,asia');
  fs.writeFileSync(path.join(flat, 'metadata.csv'), rows.join('\n') + '\n');

  [browser, server] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  errors = watchErrors(page);
  await page.goto(`${server.url}/?mode=classify`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${server.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.server.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Results {
  dataset: { evaluated: number; classes: number; skipped: { file: string; reason: string }[]; labels: unknown };
  metrics: { acc1: number; acc5: number | null; mean_per_class_recall: number };
  predictions: { file: string; label: string; pred: string; top5: [string, number][] }[];
}

async function run(folder: string): Promise<Results> {
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.waitForFunction(() => window.zsw.classify.dataset !== null || window.zsw.classify.error !== null);
  expect(await page.evaluate(() => window.zsw.classify.error)).toBeNull();
  expect(await page.getByTestId('dataset-summary').textContent()).toMatch(/100 images in 10 classes/);
  await page.getByTestId('template-choice').selectOption('simple');
  expect(await page.evaluate(() => window.zsw.classify.start())).toBe(true);
  return (await page.evaluate(() => window.zsw.classify.resultsJson())) as unknown as Results;
}

test('a flat folder with a metadata label column scores as the same images in class folders', async () => {
  const byFolder = await run(path.join(dir, 'nested'));
  const flat = await run(path.join(dir, 'flat'));

  // Classes from the label column; the two unlabelled images named and left out.
  expect(await page.evaluate(() => window.zsw.classify.labelColumn)).toBe('label');
  expect(await page.getByTestId('label-column').inputValue()).toBe('label');
  const unlabelled = await page.getByTestId('unlabelled').textContent();
  expect(unlabelled).toMatch(/2 images have no label and are left out/);
  expect(unlabelled).toContain('no-row.jpg');
  expect(unlabelled).toContain('no-label.jpg');
  expect(flat.dataset.labels).toEqual({ file: 'metadata.csv', column: 'label' });
  expect([...flat.dataset.skipped].sort((a, b) => a.file.localeCompare(b.file))).toEqual([
    { file: 'no-label.jpg', reason: 'no “label” in metadata.csv' },
    { file: 'no-row.jpg', reason: 'no row in metadata.csv' },
  ]);
  expect(byFolder.dataset.labels).toBe('class folders');

  // The same figures, image by image.
  expect(flat.dataset.evaluated).toBe(100);
  expect(flat.dataset.classes).toBe(10);
  expect(flat.metrics).toEqual(byFolder.metrics);
  const nested = new Map(byFolder.predictions.map((p) => [p.file, p]));
  for (const p of flat.predictions) {
    const q = nested.get(original.get(p.file)!)!;
    expect([p.label, p.pred]).toEqual([q.label, q.pred]);
  }
  const right = flat.predictions.filter((p) => p.pred === p.label).length;
  console.log(
    `flat folder + metadata labels: acc1 ${flat.metrics.acc1} (${right}/100), class folders ${byFolder.metrics.acc1}; ` +
      `acc5 ${flat.metrics.acc5} / ${byFolder.metrics.acc5}`,
  );
  expect(flat.metrics.acc1).toBe(right / 100);

  // The Slices view reads the same file: the label column scores, the region column slices.
  const region = (await page.evaluate(() => window.zsw.slices.benchJson(['region']))).region as {
    groups: { value: string; n: number }[];
  };
  expect(await page.evaluate(() => window.zsw.slices.labelRule.column)).toBe('label');
  expect(region.groups.map((g) => [g.value, g.n])).toEqual(REGIONS.map((r) => [r, 25]));

  // Any column may be the label: by region, four classes, and no-label.jpg (which has a region) is back.
  await page.getByTestId('label-column').selectOption('region');
  await expect.poll(() => page.getByTestId('dataset-summary').textContent()).toMatch(/101 images in 4 classes/);

  // A picked file whose labels are lists: automobile and truck accept each other, in the headline figures too.
  const partner: Record<string, string> = { automobile: 'truck', truck: 'automobile' };
  const listCsv = [
    'file,label',
    ...[...original].map(([name, p]) => {
      const c = p.split('/')[0]!;
      return `${name},${partner[c] ? `"['${c}', '${partner[c]}']"` : c}`;
    }),
  ].join('\n');
  expect(await page.evaluate((t) => window.zsw.classify.useLabelMetadata('labels.csv', t), listCsv)).toBe(true);
  expect(await page.getByTestId('dataset-summary').textContent()).toMatch(/100 images in 10 classes/);
  expect(await page.evaluate(() => window.zsw.classify.start())).toBe(true);
  const anyOf = (await page.evaluate(() => window.zsw.classify.resultsJson())) as unknown as Results;
  // Expected from the class-folder run's own predictions, counted here.
  const accepts = (label: string, c: string) => c === label || c === partner[label];
  const right1 = byFolder.predictions.filter((p) => accepts(p.label, p.pred)).length;
  const right5 = byFolder.predictions.filter((p) => p.top5.some(([c]) => accepts(p.label, c))).length;
  console.log(`list-valued labels (automobile|truck): acc1 ${anyOf.metrics.acc1} (${right1}/100 expected)`);
  expect(right1).toBeGreaterThan(right);
  expect(anyOf.metrics.acc1).toBe(right1 / 100);
  expect(anyOf.metrics.acc5).toBe(right5 / 100);
  expect(anyOf.dataset.labels).toEqual({ file: 'labels.csv', column: 'label' });
  expect(errors).toEqual([]);
}, 180_000);

test('Dollar Street’s layout (a folder per photo): labels from the metadata instead of the folders', async () => {
  const byFolder = await run(path.join(dir, 'nested'));
  await page.getByTestId('folder-input').setInputFiles(path.join(dir, 'dollar-street'));
  // Its one subfolder (assets/) cannot be the classes: the labels come from metadata.csv, whose label column
  // (`topics`, not a name the app recognises) the user is asked for, then names.
  await expect
    .poll(() => page.evaluate(() => window.zsw.classify.error?.message ?? ''))
    .toMatch(/metadata\.csv has no label column .*choose the column/);
  expect(await page.getByTestId('labels-from').inputValue()).toBe('metadata');
  expect(await page.getByTestId('label-column').inputValue()).toBe('');
  await page.screenshot({
    path: path.join(process.env.SCREENSHOT_DIR ?? os.tmpdir(), 'zsw-dollar-street-labels.png'),
    fullPage: true,
  });
  await page.getByTestId('label-column').selectOption('topics');
  await expect.poll(() => page.getByTestId('dataset-summary').textContent()).toMatch(/100 images in 10 classes/);
  await page.getByTestId('template-choice').selectOption('simple');
  expect(await page.evaluate(() => window.zsw.classify.start())).toBe(true);
  const ds = (await page.evaluate(() => window.zsw.classify.resultsJson())) as unknown as Results;
  console.log(
    `Dollar Street layout, labels from topics: acc1 ${ds.metrics.acc1}, class folders ${byFolder.metrics.acc1}`,
  );
  expect(ds.dataset.labels).toEqual({ file: 'metadata.csv', column: 'topics' });
  expect(ds.metrics).toEqual(byFolder.metrics);
  // Back to the folders, as the user may choose: one class folder, said so.
  await page.getByTestId('labels-from').selectOption('folders');
  await expect
    .poll(() => page.evaluate(() => window.zsw.classify.error?.message ?? ''))
    .toMatch(/Only one class folder \(“assets”\)/);
  expect(errors).toEqual([]);
}, 180_000);
