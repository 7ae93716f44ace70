/**
 * Slices in Chromium with toy-clip-cifar10 on WASM over CIFAR-10 dev (1,000 images), with a
 * Dollar-Street-shaped `metadata.csv` generated here beside the class folders: `imageRelPath`,
 * `country.name`, `region.id`, `income` (numeric, with ties), `topics` (a list) and
 * `imagenet_sysnet_id` (a list of acceptable labels: automobile and truck accept each other), plus one
 * row naming a missing image and one image left without a row.
 * - the file loads without configuration: the label column and its "any of" rule, both problems named;
 * - the slice bars, the region × income heatmap and the world map render; a bar opens that slice's errors;
 * - the per-slice JSON export equals (a) the bench's `slices` (`zsw.slices.benchJson`, what
 *   `bench --metadata --slice-by` writes) and (b) the same figures recomputed here in Node from the
 *   run's exported predictions and the CSV (counts by hand, Wilson/bootstrap/permutation from src/core).
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
import { binOf, bootstrapGapCi, permutationGapP, wilson } from '../../src/core/stats';
import { BOOTSTRAP_REPS, PERMUTATION_REPS, SLICE_SEED } from '../../src/core/slices';
import '../helpers/zsw';

/** Countries with their Dollar Street region and a typical monthly income (USD). */
const COUNTRIES: [string, string, number][] = [
  ['India', 'asia', 120],
  ['China', 'asia', 400],
  ['Nigeria', 'africa', 60],
  ['Burundi', 'africa', 30],
  ['United States', 'the americas', 3000],
  ['Brazil', 'the americas', 700],
  ['France', 'europe', 2500],
  ['Sweden', 'europe', 3200],
];
const PARTNER: Record<string, string> = { automobile: 'truck', truck: 'automobile' };
const TOPICS = ['kitchen', 'street', 'bedroom', 'yard'];
const MISSING = 'cat/9999.jpg';

interface Row {
  file: string;
  cls: string;
  country: string;
  region: string;
  income: number;
  labels: string[];
}

let browser: Browser;
let server: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];
let dir: string;
let rows: Row[];
let unlisted: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-slices-'));
  const ds = path.join(dir, 'dollar-cifar');
  fs.cpSync(path.join(DATASETS, 'cifar10/dev'), ds, { recursive: true });
  const files = fs
    .readdirSync(ds)
    .filter((c) => fs.statSync(path.join(ds, c)).isDirectory())
    .sort()
    .flatMap((c) =>
      fs
        .readdirSync(path.join(ds, c))
        .sort()
        .map((f) => `${c}/${f}`),
    );
  unlisted = files[files.length - 1]!;
  rows = files.slice(0, -1).map((file, i) => {
    const [country, region, base] = COUNTRIES[(i * 7 + (i >> 3)) % COUNTRIES.length]!;
    const cls = file.split('/')[0]!;
    // Incomes repeat (multiples of 10), so quantile edges meet ties.
    return {
      file,
      cls,
      country,
      region,
      income: base + 10 * (i % 5),
      labels: [cls, ...(PARTNER[cls] ? [PARTNER[cls]] : [])],
    };
  });
  const csvLines = [
    'id,imageRelPath,country.name,region.id,income,topics,imagenet_sysnet_id',
    ...rows.map(
      (r, i) =>
        `ds${i},${r.file},${r.country},${r.region},${r.income},"['${TOPICS[i % 4]}', '${TOPICS[(i + 1) % 4]}']",` +
        `"${JSON.stringify(r.labels).replace(/"/g, '""')}"`,
    ),
    `ds-missing,${MISSING},France,europe,2500,"['yard']","[""cat""]"`,
  ];
  fs.writeFileSync(path.join(ds, 'metadata.csv'), csvLines.join('\n') + '\n');

  [browser, server] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  errors = watchErrors(page);
  await page.goto(`${server.url}/?mode=classify`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${server.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);
  await page.getByTestId('folder-input').setInputFiles(ds);
  await page.waitForFunction(() => window.zsw.classify.dataset !== null || window.zsw.classify.error !== null);
  expect(await page.getByTestId('dataset-summary').textContent()).toMatch(/1000 images in 10 classes/);
  await page.getByTestId('template-choice').selectOption('simple');
  await page.getByTestId('run-classification').click();
  await page.getByTestId('acc1').waitFor({ timeout: 400_000 });
  const t = await page.evaluate(() => window.zsw.classify.resultsJson()!.timing);
  console.log(`slices e2e set-up: run ${JSON.stringify(t)}`);
  // 1,000 images encoded on WASM: about a minute on an idle 2-core machine, several when it is shared.
}, 480_000);

afterAll(async () => {
  await browser?.close();
  await server?.server.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Pred {
  file: string;
  label: string;
  pred: string;
  top5: [string, number][];
}
interface Slice {
  groups: { value: string; n: number; acc1: number; acc1_ci95: [number, number]; acc5: number }[];
  worst: string | null;
  best: string | null;
  gap: number | null;
  gap_ci95: [number, number] | null;
  gap_p_value: number | null;
}

/** The slice figures recomputed in Node from the run's predictions and the generated rows. */
function expected(preds: Pred[], groupOf: (r: Row) => string, order: string[]): Slice {
  const byFile = new Map(rows.map((r) => [r.file, r]));
  const members = new Map<string, { c1: number[]; c5: number[] }>(order.map((v) => [v, { c1: [], c5: [] }]));
  for (const p of preds) {
    const r = byFile.get(p.file);
    if (!r) continue;
    const m = members.get(groupOf(r))!;
    m.c1.push(r.labels.includes(p.pred) ? 1 : 0);
    m.c5.push(p.top5.some(([c]) => r.labels.includes(c)) ? 1 : 0);
  }
  const r6 = (x: number) => Number(x.toFixed(6));
  const groups = order
    .filter((v) => members.get(v)!.c1.length > 0)
    .map((v) => {
      const { c1, c5 } = members.get(v)!;
      const k = c1.reduce((a, b) => a + b, 0);
      const ci = wilson(k, c1.length);
      const acc5 = c5.reduce((a, b) => a + b, 0) / c5.length;
      return {
        value: v,
        n: c1.length,
        acc1: r6(k / c1.length),
        acc1_ci95: [r6(ci[0]), r6(ci[1])] as [number, number],
        acc5: r6(acc5),
      };
    });
  const eligible = groups.filter((g) => g.n >= 30);
  const worst = eligible.reduce((a, b) => (b.acc1 < a.acc1 ? b : a));
  const best = eligible.reduce((a, b) => (b.acc1 > a.acc1 ? b : a));
  const outcomes = eligible.map((g) => members.get(g.value)!.c1);
  const ci = bootstrapGapCi(members.get(worst.value)!.c1, members.get(best.value)!.c1, BOOTSTRAP_REPS, SLICE_SEED);
  return {
    groups,
    worst: worst.value,
    best: best.value,
    gap: r6(best.acc1 - worst.acc1),
    gap_ci95: [r6(ci[0]), r6(ci[1])],
    gap_p_value: r6(permutationGapP(outcomes, PERMUTATION_REPS, SLICE_SEED)),
  };
}

test('a Dollar-Street-shaped CSV: slices, heatmap, map, a slice’s errors, exports equal the bench JSON', async () => {
  const t0 = Date.now();
  await page.getByRole('tab', { name: 'Slices' }).click();
  const summary = page.getByTestId('metadata-summary');
  await expect.poll(() => summary.textContent()).toMatch(/metadata\.csv \(beside the images\): 1000 rows/);
  expect(await summary.textContent()).toMatch(/999 of 1000 evaluated images have a row/);
  expect(await page.getByTestId('metadata-missing').textContent()).toContain(MISSING);
  expect(await page.getByTestId('metadata-unlisted').textContent()).toContain(unlisted);
  expect(await page.getByTestId('label-rule').inputValue()).toBe('imagenet_sysnet_id');
  const rule = await page.evaluate(() => window.zsw.slices.labelRule);
  expect(rule).toEqual({ column: 'imagenet_sysnet_id', matched: 999, note: null });

  // The attribute table: every generated attribute, Holm p-values shown (once the worker has computed them).
  const table = page.getByTestId('slice-table');
  await table.waitFor();
  await expect.poll(() => page.evaluate(() => window.zsw.slices.computing)).toBe(false);
  for (const a of ['country.name', 'region.id', 'income', 'topics'])
    expect(await table.locator(`tr[data-attribute="${a}"]`).count()).toBe(1);

  // Bars for country.name, whiskers included; a bar opens that slice's errors.
  await page.getByTestId('slice-attribute').selectOption('country.name');
  const bars = page.getByTestId('slice-bars').locator('g.bar');
  expect(await bars.count()).toBe(COUNTRIES.length);
  const json = await page.evaluate(() => window.zsw.slices.exportJson());
  const slices = json.slices as Record<string, Slice>;
  const worst = slices['country.name']!.worst!;
  for (const s of Object.values(slices).filter((x) => x.gap !== null)) {
    expect(s.gap_ci95![0]).toBeLessThanOrEqual(s.gap!);
    expect(s.gap_ci95![1]).toBeGreaterThanOrEqual(s.gap!);
  }
  await page.locator(`g.bar[data-slice="${worst}"]`).click();
  const gallery = page.getByRole('region', { name: `Errors where country.name is ${worst}, most confident first` });
  await gallery.waitFor();
  const g = slices['country.name']!.groups.find((x) => x.value === worst)!;
  const nErrors = Math.round(g.n * (1 - g.acc1));
  expect(await gallery.locator('h3').textContent()).toContain(`(${nErrors} image${nErrors === 1 ? '' : 's'})`);
  await gallery.getByRole('button', { name: 'Close' }).click();

  // Heatmap region × income (the defaults) and the world map.
  const heat = page.getByTestId('slice-heatmap');
  await heat.waitFor();
  expect(await page.getByTestId('heat-row').inputValue()).toBe('region.id');
  expect(await page.getByTestId('heat-col').inputValue()).toBe('income');
  // One cell per (region, income bin) pair that has images, the bins being the exported edges.
  const edges = (json.bins as Record<string, number[]>).income!;
  const pairs = new Set(rows.map((r) => `${r.region}|${binOf(r.income, edges)}`));
  expect(await heat.locator('g.cell').count()).toBe(pairs.size);
  const map = page.getByTestId('slice-map');
  await map.waitFor({ timeout: 20_000 });
  expect(await map.locator('path.country').count()).toBe(COUNTRIES.length);
  expect(await map.locator('path[data-country="United States of America"]').count()).toBe(1);

  // The downloaded export equals the bench's slices and the Node recomputation.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('slices-json').click()]);
  const exported = JSON.parse(fs.readFileSync((await dl.path())!, 'utf8')) as { slices: Record<string, Slice> };
  const bench = await page.evaluate(() => window.zsw.slices.benchJson(['country.name', 'region.id', 'income']));
  for (const a of ['country.name', 'region.id', 'income']) expect(exported.slices[a]).toEqual(bench[a]);
  const preds = ((await page.evaluate(() => window.zsw.classify.resultsJson())) as { predictions: Pred[] }).predictions;
  expect(exported.slices['country.name']).toEqual(
    expected(preds, (r) => r.country, [...new Set(rows.map((r) => r.country))]),
  );
  expect(exported.slices['region.id']).toEqual(
    expected(preds, (r) => r.region, [...new Set(rows.map((r) => r.region))]),
  );
  const incomeGroups = exported.slices.income!.groups.map((x) => x.value);
  expect(incomeGroups.length).toBeGreaterThanOrEqual(3);
  const acc1 = (exported.slices['country.name']!.groups as { acc1: number; n: number }[]).reduce(
    (s, x) => s + x.acc1 * x.n,
    0,
  );
  console.log(
    `slices: any-of top-1 over rows ${(acc1 / 999).toFixed(4)}; country gap ${slices['country.name']!.gap} ` +
      `CI ${JSON.stringify(slices['country.name']!.gap_ci95)} p ${slices['country.name']!.gap_p_value}; ` +
      `income bins ${incomeGroups.join(' ')}; view checks ${Date.now() - t0} ms`,
  );
  // A comparison's model table computes each run's slices the same way (here, the Evaluate tab's run).
  const perRun = await page.evaluate(async () =>
    (await window.zsw.slices.summariesFor(window.zsw.classify.run)).map((s) => [
      s.attribute,
      s.gap,
      s.gap_ci95,
      s.gap_p_value,
    ]),
  );
  expect(
    perRun
      .find((x) => x[0] === 'country.name')!
      .slice(1)
      // Both sides rounded to 6 digits, as the exports are (the per-run summary keeps full precision).
      .map((x) =>
        JSON.stringify(Array.isArray(x) ? x.map((v) => Number(Number(v).toFixed(6))) : Number(Number(x).toFixed(6))),
      ),
  ).toEqual(
    [slices['country.name']!.gap, slices['country.name']!.gap_ci95, slices['country.name']!.gap_p_value].map((x) =>
      JSON.stringify(Array.isArray(x) ? x.map((v) => Number(v.toFixed(6))) : Number(x!.toFixed(6))),
    ),
  );
  // The bench's route: the same CSV imported as a picked file gives the same figures.
  const csv = fs.readFileSync(path.join(dir, 'dollar-cifar/metadata.csv'), 'utf8');
  expect(await page.evaluate((t) => window.zsw.slices.importText('metadata.csv', t), csv)).toBe(true);
  expect(await page.evaluate(() => window.zsw.slices.benchJson(['country.name']))).toEqual({
    'country.name': exported.slices['country.name'],
  });
  expect(errors).toEqual([]);
}, 120_000);

test('switching attributes, sizes, bins and the heatmap quickly: no main-thread long task from the statistics', async () => {
  const computing = () => page.evaluate(() => window.zsw.slices.computing);
  const settle = async () => {
    await expect.poll(computing, { timeout: 60_000 }).toBe(false);
    // Two frames, so the last render is inside the observed window.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  };
  await page.getByTestId('slice-table').waitFor();
  await settle();
  const columns = ['country.name', 'region.id', 'income', 'topics'];
  const before = await page.evaluate((c) => window.zsw.slices.benchJson(c), columns);
  await page.evaluate(() => {
    const w = window as unknown as { __sliceTasks: { at: number; ms: number }[] };
    w.__sliceTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__sliceTasks.push({ at: e.startTime, ms: e.duration });
    }).observe({ type: 'longtask' });
  });
  const t0 = Date.now();
  // Each of these recomputes every attribute's groups, intervals, bootstrap and permutation test
  // (or the heatmap's cells); done back to back, as a user clicking through them.
  const attribute = page.getByTestId('slice-attribute');
  const minSize = page.getByTestId('min-size');
  for (const a of ['region.id', 'income', 'topics', 'country.name']) await attribute.selectOption(a);
  for (const v of ['20', '45', '10', '30']) await minSize.fill(v);
  await page.getByTestId('heat-row').selectOption('country.name');
  await page.getByTestId('heat-col').selectOption('topics');
  await page.getByTestId('heat-row').selectOption('region.id');
  await page.getByTestId('heat-col').selectOption('income');
  await page.getByLabel('include smaller groups in worst, best and gap').check();
  await page.getByLabel('include smaller groups in worst, best and gap').uncheck();
  await attribute.selectOption('income');
  await page.getByLabel('Bin edges of income').fill('100, 500, 2600');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('button', { name: 'Quartiles' }).click();
  await page.getByTestId('label-rule').selectOption('');
  await page.getByTestId('label-rule').selectOption('imagenet_sysnet_id');
  await settle();
  const ms = Date.now() - t0;
  const tasks = await page.evaluate(
    () => (window as unknown as { __sliceTasks: { at: number; ms: number }[] }).__sliceTasks,
  );
  const longest = Math.max(0, ...tasks.map((t) => t.ms));
  console.log(
    `slices long tasks while switching (${ms} ms): ${tasks.length} ≥ 50 ms, longest ${Math.round(longest)} ms ` +
      `[${tasks.map((t) => Math.round(t.ms)).join(', ')}]`,
  );
  // Back at the same settings, the figures are those from before (the last job won, none was lost).
  expect(await page.evaluate(() => window.zsw.slices.labelRule.column)).toBe('imagenet_sysnet_id');
  expect(await page.evaluate((c) => window.zsw.slices.benchJson(c), columns)).toEqual(before);
  expect(await page.getByTestId('slice-heatmap').locator('g.cell').count()).toBeGreaterThan(0);
  console.log(`slices: last statistics job ${Math.round(await page.evaluate(() => window.zsw.slices.computeMs))} ms`);
  // Statistics run in workers/slices.worker.ts (before they moved there: 10 tasks ≥ 50 ms, longest 199 ms).
  // What is left on the main thread is redrawing the table and heatmap: with Chromium 156.0.8078.114 on
  // the 2-core machine one redraw took 57 ms in a clean CI run on 4 Dec 2026 (75 ms with another job on
  // the cores), so the bound is 100 ms, as for the 8,000-image UI run.
  expect(longest).toBeLessThan(100);
  expect(errors).toEqual([]);
}, 180_000);
