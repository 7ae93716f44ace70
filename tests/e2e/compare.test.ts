/**
 * Acceptance of "Compare models" in Chromium (WASM), through the Compare tab's own state and view:
 * toy-clip-cifar10 (A) against toy-clip-cifar10-skewed (B) on the 1,000 CIFAR-10 dev images, single template.
 * - Each model's acc1 / acc5 / mean per-class recall within ±0.003 of its PyTorch reference (dev-single.json).
 * - The 2×2 table equals the one this test counts from the app's per-image predictions, and is within 1% of the
 *   images per cell of the one counted from the two references' per_image preds (the app agrees with each
 *   reference on ≥ 99% of images, see classify-parity); McNemar's p equals the exact two-sided binomial
 *   p = min(1, 2·Σ_{k ≤ min(b, c)} C(b + c, k)/2^(b + c)) summed in log space (tests/helpers/mcnemar.ts, no stats library).
 * - The bootstrap interval is reproducible: Node recomputes it from the app's per-image outcomes with seed 0.
 * - Adding toy-mobileclip-layout to the finished comparison encodes only its 1,000 images: its vision key differs
 *   (other preprocessor_config.json) while its text tower (same ONNX and tokenizer files) hits the prompt cache.
 * - The view: table rows, an agreement cell opens its images, per-class sort and its CSV, Pareto chart, JSON and CSV
 *   exports; concept frequency with one line per model (the skewed model's counts): each slope and r equal the least
 *   squares this test computes from the model's per-class recall, and the skewed model's equal its reference
 *   (frequency-analysis-dev.json: 0.3033 per decade, r 0.8659) within 0.005 and 0.01.
 * - Mixed families: toy SigLIP (scale 8.416680, bias -4.560376 entered per model) joins the comparison.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS, MODELS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import { bootstrapAccDiffCi } from '../../src/core/compare';
import { exactMcnemar } from '../helpers/mcnemar';
import '../helpers/zsw';

interface Ref {
  classnames: string[];
  top1: number;
  top5: number;
  balanced_accuracy: number;
  per_image: { file: string; label: number; pred: number }[];
}
interface ModelJson {
  model: string;
  acc1: number;
  ece: number | null;
  family: string;
  results: {
    metrics: {
      acc1: number;
      acc5: number;
      mean_per_class_recall: number;
      ece: number | null;
      per_class: Record<string, { recall: number }>;
    };
    predictions: { file: string; label: string; pred: string }[];
  };
}
interface PairJson {
  a: string;
  b: string;
  n: number;
  both_right: number;
  only_a: number;
  only_b: number;
  both_wrong: number;
  mcnemar_p: number;
  acc_diff: number;
  acc_diff_ci95: [number, number];
  per_class: { class: string; diff: number }[];
}
interface CompareJson {
  models: ModelJson[];
  comparison: { pairs: PairJson[] };
  frequency: { models: { model: string; slope_per_decade: number; pearson_r: number; n_concepts: number }[] } | null;
}

const DEV = path.join(DATASETS, 'cifar10/dev');
const A = 'toy-clip-cifar10';
const B = 'toy-clip-cifar10-skewed';
const C = 'toy-mobileclip-layout';
const S = 'toy-siglip-cifar10';
const ref = (m: string) =>
  JSON.parse(fs.readFileSync(path.join(MODELS, m, 'reference', 'dev-single.json'), 'utf8')) as Ref;

function table(ra: boolean[], rb: boolean[]) {
  const t = { both_right: 0, only_a: 0, only_b: 0, both_wrong: 0 };
  ra.forEach((x, i) => {
    if (x && rb[i]) t.both_right++;
    else if (x) t.only_a++;
    else if (rb[i]) t.only_b++;
    else t.both_wrong++;
  });
  return t;
}

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];
/** Prints the comparison's progress every 15 s (runs are slow on a loaded CI machine). */
function watchProgress(): () => void {
  const t = setInterval(() => {
    page
      .evaluate(() => {
        const p = window.zsw.compare.progress;
        const r = (p as { run?: { label: string; done: number; total: number } | null } | null)?.run;
        return p ? `${p.model} ${p.index}/${p.count} ${p.step}${r ? ` ${r.label} ${r.done}/${r.total}` : ''}` : 'idle';
      })
      .then((s) => console.log(`compare: ${s}`))
      .catch(() => undefined);
  }, 15_000);
  return () => clearInterval(t);
}

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  errors = watchErrors(page);
  await page.goto(`${app.url}/?mode=compare`, { timeout: 180_000 }); // the dev server compiles on first load
  await page.waitForFunction(() => 'zsw' in window);
});
afterAll(async () => {
  await browser?.close();
  await app?.server.close();
});

const add = (name: string, scalars?: { scale: number; bias: number }) =>
  page.evaluate(([s, sc]) => window.zsw.compare.add(s, 'wasm', 'auto', sc ?? undefined), [
    urlSource(`${app.url}/models/${name}/`, 'server', name),
    scalars ?? null,
  ] as const);
const json = async () => (await page.evaluate(() => window.zsw.compare.comparisonJson())) as unknown as CompareJson;

test('two toy CLIPs on 1,000 dev images: metrics, 2×2 table, McNemar, bootstrap; a third model encodes only its images', async () => {
  await page.getByTestId('compare-folder-input').setInputFiles(DEV);
  await page.waitForFunction(() => window.zsw.compare.cls.dataset !== null);
  await page.getByTestId('compare-template-choice').selectOption('simple');
  expect(await add(A)).toBe(true);
  expect(await add(B)).toBe(true);
  expect(await add(A)).toBe(false); // the same model twice is refused
  await page.getByTestId('compare-run').click();
  await page.waitForFunction(() => window.zsw.compare.progress !== null);
  expect(await page.getByTestId('compare-progress').textContent()).toMatch(/toy-clip-cifar10/);
  const stop = watchProgress();
  await page.waitForFunction(() => !window.zsw.compare.running, null, { timeout: 900_000 });
  stop();
  expect(await page.evaluate(() => window.zsw.compare.error)).toBeNull();

  const j = await json();
  expect(j.models.map((m) => m.model)).toEqual([A, B]);
  const right: Record<string, Map<string, boolean>> = {};
  for (const m of j.models) {
    const r = ref(m.model);
    const met = m.results.metrics;
    console.log(
      `${m.model}: acc1 ${met.acc1} (ref ${r.top1.toFixed(4)}), acc5 ${met.acc5} (ref ${r.top5.toFixed(4)}), ` +
        `mpcr ${met.mean_per_class_recall} (ref ${r.balanced_accuracy.toFixed(4)})`,
    );
    expect(m.results.predictions).toHaveLength(1000);
    expect(Math.abs(met.acc1 - r.top1)).toBeLessThanOrEqual(0.003);
    expect(Math.abs(met.acc5 - r.top5)).toBeLessThanOrEqual(0.003);
    expect(Math.abs(met.mean_per_class_recall - r.balanced_accuracy)).toBeLessThanOrEqual(0.003);
    right[m.model] = new Map(m.results.predictions.map((p) => [p.file, p.pred === p.label]));
  }
  const files = [...right[A]!.keys()];
  const app2x2 = table(
    files.map((f) => right[A]!.get(f)!),
    files.map((f) => right[B]!.get(f)!),
  );
  const [ra, rb] = [ref(A), ref(B)];
  const refB = new Map(rb.per_image.map((r) => [r.file, r.pred === r.label]));
  const ref2x2 = table(
    ra.per_image.map((r) => r.pred === r.label),
    ra.per_image.map((r) => refB.get(r.file)!),
  );
  const pair = j.comparison.pairs[0]!;
  const got = { both_right: pair.both_right, only_a: pair.only_a, only_b: pair.only_b, both_wrong: pair.both_wrong };
  console.log(
    `2×2 app ${JSON.stringify(got)} · from references ${JSON.stringify(ref2x2)} · McNemar p ${pair.mcnemar_p} ` +
      `(references: ${exactMcnemar(ref2x2.only_a, ref2x2.only_b)}) · acc diff ${pair.acc_diff} CI ${JSON.stringify(pair.acc_diff_ci95)}`,
  );
  expect(pair.n).toBe(1000);
  expect(got).toEqual(app2x2);
  for (const k of Object.keys(ref2x2) as (keyof typeof ref2x2)[])
    expect(Math.abs(got[k] - ref2x2[k])).toBeLessThanOrEqual(10);
  expect(pair.mcnemar_p).toBeCloseTo(exactMcnemar(pair.only_a, pair.only_b), 12);
  expect(pair.mcnemar_p).toBeLessThan(0.001);
  const ci = bootstrapAccDiffCi(
    Uint8Array.from(files, (f) => (right[A]!.get(f) ? 1 : 0)),
    Uint8Array.from(files, (f) => (right[B]!.get(f) ? 1 : 0)),
    2000,
    0,
  );
  expect(pair.acc_diff_ci95).toEqual(ci.map((x) => Number(x.toFixed(6))));
  expect(pair.acc_diff_ci95[0]).toBeLessThan(pair.acc_diff);
  expect(pair.acc_diff_ci95[1]).toBeGreaterThan(pair.acc_diff);

  // A third model on the finished comparison: only its images are encoded (its text tower is toy-clip's).
  const before = await page.evaluate(() => window.zsw.engine.encodeCounts());
  expect(await add(C)).toBe(true);
  const stop3 = watchProgress();
  expect(await page.evaluate(() => window.zsw.compare.start())).toBe(true);
  stop3();
  const after = await page.evaluate(() => window.zsw.engine.encodeCounts());
  console.log(`adding ${C}: encoded ${after.images - before.images} images, ${after.texts - before.texts} prompts`);
  expect(after.images - before.images).toBe(1000);
  expect(after.texts - before.texts).toBe(0);
  const j3 = await json();
  expect(j3.models.map((m) => m.model)).toEqual([A, B, C]);
  expect(j3.comparison.pairs).toHaveLength(3);
  expect(j3.comparison.pairs[0]).toEqual(pair); // A and B were not re-run
  expect(Math.abs(j3.models[2]!.results.metrics.acc1 - ref(C).top1)).toBeLessThanOrEqual(0.003);
  expect(errors).toEqual([]);
}, 1_500_000);

test('the view: table, agreement cell to gallery, per-class sort, Pareto chart, exports', async () => {
  await expect.poll(() => page.getByTestId('compare-table').locator('tbody tr').count()).toBe(3);
  await page.getByTestId('agree-only_a').click();
  const onlyA = (await json()).comparison.pairs[0]!.only_a;
  const gallery = page.locator('section.gallery');
  await expect.poll(() => gallery.locator('h3').textContent()).toContain(`(${onlyA} images)`);
  expect(await gallery.locator('ul.grid > li').count()).toBe(Math.min(40, onlyA)); // one page of 40
  await gallery.getByRole('button', { name: 'Close' }).click();

  const firstClass = () => page.getByTestId('class-diff-table').locator('tbody tr td').first().textContent();
  const perClass = (await json()).comparison.pairs[0]!.per_class;
  expect(await firstClass()).toBe(perClass[0]!.class); // largest gain of B first
  await page.getByTestId('sort-diff').click(); // ascending: largest loss first
  const minDiff = Math.min(...perClass.map((c) => c.diff));
  const lowest = await firstClass();
  expect(perClass.find((c) => c.class === lowest)!.diff).toBe(minDiff);
  await page.getByTestId('sort-name').click();
  expect(await firstClass()).toBe('airplane');
  // The per-class table exports as shown: sorted by name, every class, B − A equal to the JSON's.
  const [dp] = await Promise.all([page.waitForEvent('download'), page.getByTestId('class-diff-csv').click()]);
  const rows = fs
    .readFileSync((await dp.path())!, 'utf8')
    .trim()
    .split('\r\n')
    .slice(1)
    .map((l) => l.split(','));
  expect(rows.map((r) => r[2])).toEqual([...perClass.map((c) => c.class)].sort());
  for (const r of rows) expect(Number(r[6])).toBeCloseTo(perClass.find((c) => c.class === r[2])!.diff, 6);

  await expect.poll(() => page.getByTestId('cost-chart').count()).toBe(1);
  expect(await page.getByTestId('pareto-point').count()).toBeGreaterThanOrEqual(1);
  await page.getByTestId('cost-axis').selectOption('size');
  // A and C have the same files' bytes but C is less accurate: it can never be on the size frontier.
  const frontier = await page.getByTestId('cost-chart').getAttribute('aria-label');
  expect(frontier).not.toContain(C);
  await page.getByTestId('cost-axis').selectOption('speed');

  // Concept frequency, one line per model: the skewed model's counts (concept-frequency.json) for all three.
  await page.getByTestId('freq-import').setInputFiles(path.join(MODELS, B, 'concept-frequency.json'));
  await expect.poll(() => page.getByTestId('compare-freq-table').locator('tbody tr').count()).toBe(3);
  expect(await page.getByTestId('freq-line').count()).toBe(3);
  const counts = JSON.parse(fs.readFileSync(path.join(MODELS, B, 'concept-frequency.json'), 'utf8')) as Record<
    string,
    number
  >;
  const fj = (await json()).frequency!;
  const fitRef = JSON.parse(
    fs.readFileSync(path.join(MODELS, B, 'reference', 'frequency-analysis-dev.json'), 'utf8'),
  ) as { 'dev/single': { slope_acc_per_decade: number; pearson_r_acc_vs_log10_freq: number } };
  for (const m of (await json()).models) {
    // Least squares of per-class recall on log10(count), computed here from the model's own per-class JSON.
    const pts = Object.entries(m.results.metrics.per_class).map(
      ([c, v]) => [Math.log10(counts[c]!), v.recall] as const,
    );
    const mx = pts.reduce((t, p) => t + p[0], 0) / pts.length;
    const my = pts.reduce((t, p) => t + p[1], 0) / pts.length;
    const sxy = pts.reduce((t, p) => t + (p[0] - mx) * (p[1] - my), 0);
    const sxx = pts.reduce((t, p) => t + (p[0] - mx) ** 2, 0);
    const syy = pts.reduce((t, p) => t + (p[1] - my) ** 2, 0);
    const got = fj.models.find((x) => x.model === m.model)!;
    console.log(`${m.model}: slope ${got.slope_per_decade} per decade, r ${got.pearson_r} (${got.n_concepts} classes)`);
    expect(got.n_concepts).toBe(10);
    expect(got.slope_per_decade).toBeCloseTo(sxy / sxx, 5); // per_class recall is rounded to 6 digits
    expect(got.pearson_r).toBeCloseTo(sxy / Math.sqrt(sxx * syy), 4);
  }
  const skewed = fj.models.find((x) => x.model === B)!;
  expect(Math.abs(skewed.slope_per_decade - fitRef['dev/single'].slope_acc_per_decade)).toBeLessThanOrEqual(0.005);
  expect(Math.abs(skewed.pearson_r - fitRef['dev/single'].pearson_r_acc_vs_log10_freq)).toBeLessThanOrEqual(0.01);

  const [dj] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-export-json').click()]);
  const exported = JSON.parse(fs.readFileSync((await dj.path())!, 'utf8')) as CompareJson;
  expect(exported.comparison.pairs).toHaveLength(3);
  const [dc] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-export-csv').click()]);
  const lines = fs
    .readFileSync((await dc.path())!, 'utf8')
    .trim()
    .split('\r\n');
  expect(lines[0]).toBe('model_fullname,model,pretrained,dataset,task,metric,value');
  const acc1Rows = lines.filter((l) => l.includes(',acc1,'));
  expect(acc1Rows).toHaveLength(3);
  expect(acc1Rows[0]).toContain(`,${A},`);
  await page.screenshot({ path: path.join(process.env.SCREENSHOT_DIR ?? '/tmp', 'zsw-compare.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('mixed families: toy SigLIP with its scale and bias joins; cancel keeps the finished models', async () => {
  expect(await add(S, { scale: 8.41668, bias: -4.560376 })).toBe(true);
  expect(await add('tiny-random-clip')).toBe(true);
  const started = page.evaluate(() => window.zsw.compare.start());
  // Cancel once SigLIP is done and the next model is under way.
  await page.waitForFunction(() => window.zsw.compare.progress?.model === 'tiny-random-clip', null, {
    timeout: 400_000,
    polling: 50,
  });
  await page.evaluate(() => window.zsw.compare.cancel());
  expect(await started).toBe(false);
  expect(await page.evaluate(() => window.zsw.compare.error?.code)).toBe('cancelled');
  expect(await page.evaluate(() => window.zsw.compare.results.map((r) => r.label))).toEqual([A, B, C, S]);
  const j = await json();
  const s = j.models.find((m) => m.model === S)!;
  const r = ref(S);
  console.log(
    `${S}: acc1 ${s.results.metrics.acc1} (ref ${r.top1.toFixed(4)}), ECE ${s.results.metrics.ece}, ${s.family}`,
  );
  expect(s.family).toMatch(/SigLIP/);
  expect(Math.abs(s.results.metrics.acc1 - r.top1)).toBeLessThanOrEqual(0.003);
  expect(s.results.metrics.ece).not.toBeNull(); // probabilities exist once the scalars are set
  const p = j.comparison.pairs.find((x) => x.a === A && x.b === S)!;
  expect(p.both_right + p.only_a + p.only_b + p.both_wrong).toBe(1000);
  expect(errors).toEqual([]);
}, 600_000);
