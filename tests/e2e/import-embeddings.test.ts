/**
 * Embeddings computed elsewhere, in the app: clip-retrieval-layout folders made at test time from the
 * toy model's own embeddings (two .npy shards, float32 and float16, Parquet metadata by hyparquet-writer,
 * cluster-style absolute paths) give the same classification metrics as a normal run on CIFAR-10 dev
 * without encoding a single image, and the same retrieval metrics on COCO-mini; the spot check reports
 * cosine 1 for the model that made them; a model of another size and an unconfirmed model are refused;
 * the Parquet download read back by DuckDB gives the app's accuracy per class.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS } from '../helpers/paths';
import { duckDbCounts, runDuckDb } from '../helpers/duckdb';
import { captions } from '../helpers/corpus';
import { ConceptCounter } from '../../src/core/frequency';
import { embedPickedImages, writeCifarFixtures, writeCocoFixture } from '../helpers/embedding-fixture';
import { dump } from 'npyjs';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

const DEV = path.join(DATASETS, 'cifar10/dev');
const COCO = path.join(DATASETS, 'coco-mini-captions');

interface ClassifyJson {
  metrics: {
    acc1: number;
    acc5: number;
    mean_per_class_recall: number;
    per_class: Record<string, { recall: number; support: number }>;
    confusion_matrix: { matrix: number[][] };
  };
  predictions: { file: string; label: string; pred: string }[];
}
interface Imported {
  set: { dim: number; dtype: string; paths: string[] } | null;
  error: { message: string } | null;
  spot: { rows: { file: string; cosine: number }[]; min: number; ok: boolean } | null;
  spotRunning: boolean;
}

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];
let out: string;
let normal: ClassifyJson;
let fixtures: { f32: string; f16: string };

const imported = () =>
  page.evaluate((): Imported => {
    const s = (window.zsw as unknown as { imported: Imported }).imported;
    const set = s.set && { dim: s.set.dim, dtype: s.set.dtype, paths: [...s.set.paths] };
    return {
      set,
      error: s.error && { message: s.error.message },
      spot: s.spot && JSON.parse(JSON.stringify(s.spot)),
      spotRunning: s.spotRunning,
    };
  });
const classifyJson = () => page.evaluate(() => window.zsw.classify.resultsJson()) as unknown as Promise<ClassifyJson>;
const encodeCounts = () => page.evaluate(() => window.zsw.engine.encodeCounts());

/** Pick an embeddings folder in a tab, confirm the model and hand it to the tab. */
async function importFolder(task: 'classify' | 'retrieve', dir: string): Promise<void> {
  await page.locator('details.import').evaluate((d) => ((d as HTMLDetailsElement).open = true));
  await page.getByTestId(`embeddings-input-${task}`).setInputFiles(dir);
  await page.getByTestId('embeddings-summary').waitFor();
  await page.getByTestId(`embeddings-confirm-${task}`).check();
  await page.getByTestId(`embeddings-use-${task}`).click();
}

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  errors = watchErrors(page);
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-import-'));
  await page.goto(`${app.url}/?mode=classify`, { timeout: 120_000 });
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${app.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);
  // The normal run, then the same images' embeddings from the same engine, written as a cluster would.
  await page.getByTestId('folder-input').setInputFiles(DEV);
  await page.waitForFunction(() => window.zsw.classify.dataset !== null);
  await page.getByTestId('template-choice').selectOption('simple');
  expect(await page.evaluate(() => window.zsw.classify.start())).toBe(true);
  normal = await classifyJson();
  fixtures = writeCifarFixtures(out, DEV, await embedPickedImages(page, 'classify'));
}, 600_000); // the normal run encodes 1,000 images: minutes on a CPU shared with other suites
afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  if (out) fs.rmSync(out, { recursive: true, force: true });
});

test.each(['f32', 'f16'] as const)(
  'CIFAR-10 dev from %s clip-retrieval shards: the normal run’s metrics, no image encoded',
  async (variant) => {
    await importFolder('classify', fixtures[variant]);
    await expect.poll(async () => (await imported()).set?.paths.length).toBe(1000);
    expect((await imported()).set?.dtype).toBe(variant === 'f32' ? 'float32' : 'float16');
    const name = path.basename(fixtures[variant]);
    await page.waitForFunction((n) => (window.zsw.classify.dataset as { name?: string } | null)?.name === n, name);
    if (variant === 'f32') {
      // The images were picked with the f32 folder: the spot check re-encodes a few and finds the same vectors.
      await expect.poll(async () => (await imported()).spot?.rows.length ?? 0).toBeGreaterThanOrEqual(3);
      const spot = (await imported()).spot!;
      expect(spot.ok).toBe(true);
      expect(spot.min).toBeGreaterThan(0.9999);
      expect(await page.getByTestId('embeddings-spot').textContent()).toContain('cosine');
    } else {
      expect((await imported()).spot).toBeNull(); // no images beside the f16 shards: nothing to re-encode
    }
    // The run itself encodes no image (the spot check's four are done before it starts).
    const before = await encodeCounts();
    expect(await page.evaluate(() => window.zsw.classify.start())).toBe(true);
    expect((await encodeCounts()).images).toBe(before.images);
    const r = await classifyJson();
    expect(r.metrics.acc1).toBe(normal.metrics.acc1);
    expect(r.metrics.acc5).toBe(normal.metrics.acc5);
    expect(r.metrics.mean_per_class_recall).toBe(normal.metrics.mean_per_class_recall);
    expect(r.metrics.per_class).toEqual(normal.metrics.per_class);
    expect(r.metrics.confusion_matrix.matrix).toEqual(normal.metrics.confusion_matrix.matrix);
    expect(r.predictions.map((p) => [p.file, p.label, p.pred])).toEqual(
      normal.predictions.map((p) => [p.file, p.label, p.pred]),
    );
  },
);

test('the Parquet download, read back by DuckDB, gives the app’s accuracy per class', async () => {
  await page.getByLabel('with embeddings').check(); // a run on imported embeddings can carry them
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-parquet').click()]);
  const file = path.join(out, 'run.parquet');
  await dl.saveAs(file);
  const rows = await runDuckDb(
    `SELECT label, count(*) AS n, avg(correct::INT) AS recall FROM read_parquet('${file}') GROUP BY label ORDER BY label`,
  );
  expect(rows).toHaveLength(10);
  for (const r of rows) {
    const c = normal.metrics.per_class[String(r.label)]!;
    expect(Number(r.n)).toBe(c.support);
    expect(Number(Number(r.recall).toFixed(6))).toBe(c.recall);
  }
  const emb = await runDuckDb(
    `SELECT len(embedding) AS d, list_dot_product(embedding, embedding) AS nn FROM '${file}'`,
  );
  expect(emb).toHaveLength(1000);
  for (const e of emb) {
    expect(Number(e.d)).toBe(64);
    expect(Number(e.nn)).toBeCloseTo(1, 5); // unit rows
  }
});

test('a model of another size is refused, and an unconfirmed one', async () => {
  // Without the confirmation, the run on the imported set refuses with the reason.
  await page.getByTestId('embeddings-confirm-classify').uncheck();
  expect(await page.evaluate(() => window.zsw.classify.start())).toBe(false);
  expect((await page.evaluate(() => window.zsw.classify.error))?.message).toMatch(/Confirm that the loaded model/);
  await page.getByTestId('embeddings-confirm-classify').check();
  // Truncate the embeddings to another width: the panel says so and a run refuses with the reason.
  const bad = path.join(out, 'bad-dim');
  fs.mkdirSync(path.join(bad, 'img_emb'), { recursive: true });
  fs.cpSync(path.join(fixtures.f32, 'metadata'), path.join(bad, 'metadata'), { recursive: true });
  for (const [k, rows] of [
    [0, 600],
    [1, 400],
  ] as const) {
    fs.writeFileSync(
      path.join(bad, 'img_emb', `img_emb_${k}.npy`),
      new Uint8Array(dump(new Float32Array(rows * 32).fill(1), [rows, 32])),
    );
  }
  await page.getByTestId('embeddings-input-classify').setInputFiles(bad);
  await page.getByText('These embeddings have 32 dimensions but').waitFor();
  expect(await page.getByTestId('embeddings-use-classify').count()).toBe(0);
  // Row counts that disagree name both files.
  fs.rmSync(path.join(bad, 'img_emb', 'img_emb_1.npy'));
  fs.writeFileSync(
    path.join(bad, 'img_emb', 'img_emb_1.npy'),
    new Uint8Array(dump(new Float32Array(7 * 32).fill(1), [7, 32])),
  );
  await page.getByTestId('embeddings-input-classify').setInputFiles(bad);
  await expect
    .poll(async () => (await imported()).error?.message)
    .toMatch(/metadata\/metadata_1\.parquet: has 400 rows but img_emb\/img_emb_1\.npy has 7 embeddings/);
});

test('Concept frequency: the exported DuckDB script counts a caption file as the browser does, and its output imports', async () => {
  const corpus = path.join(out, 'captions.txt');
  const texts = [...captions(3000, 11)].map((c) => c.caption).concat(['Two MICE', 'the dogs’ bowls', 'İSTANBUL']);
  fs.writeFileSync(corpus, texts.join('\n') + '\n');
  await page.getByRole('tab', { name: 'Concept frequency' }).click();
  await page.getByTestId('freq-sql-path').fill(corpus);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('freq-sql-duckdb').click()]);
  const sql = fs.readFileSync((await dl.path())!, 'utf8');
  const counted = await duckDbCounts(sql);
  // The browser's counter over the same captions and the concepts the view counts (names, folders, matches).
  const concepts = await page.evaluate(() =>
    (window.zsw.frequency as unknown as { countConcepts(): string[] }).countConcepts(),
  );
  expect(Object.keys(counted).sort()).toEqual([...concepts].sort());
  const js = new ConceptCounter(concepts);
  texts.forEach((t) => js.add(t));
  expect(counted).toEqual(js.counts());
  expect(counted['dog']).toBeGreaterThan(100);
  // DuckDB's `concept,count` output goes back into the view.
  const csv = path.join(out, 'concept_counts.csv');
  fs.writeFileSync(csv, ['concept,count', ...Object.entries(counted).map(([c, n]) => `${c},${n}`)].join('\n'));
  await page.getByTestId('freq-import').setInputFiles(csv);
  await page.waitForFunction(() => (window.zsw.frequency.source as { kind?: string } | null)?.kind === 'imported');
  const summary = await page.evaluate(() => window.zsw.frequency.summary());
  expect(summary?.n_concepts).toBe(10);
});

test('COCO-mini retrieval from clip-retrieval shards: the normal run’s metrics', async () => {
  await page.getByTestId('mode-retrieve').click();
  await page.getByTestId('retrieval-folder-input').setInputFiles(COCO);
  await page.waitForFunction(() => window.zsw.retrieve.dataset !== null);
  expect(await page.evaluate(() => window.zsw.retrieve.start())).toBe(true);
  const normalRet = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as {
    metrics: Record<string, number>;
  };
  const dir = writeCocoFixture(out, COCO, await embedPickedImages(page, 'retrieve'));
  await importFolder('retrieve', dir);
  await page.waitForFunction(
    () => (window.zsw.retrieve.dataset?.match?.captions.length ?? 0) > 0 && !window.zsw.retrieve.running,
  );
  const before = await encodeCounts();
  expect(await page.evaluate(() => window.zsw.retrieve.start())).toBe(true);
  expect((await encodeCounts()).images).toBe(before.images);
  const r = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as { metrics: Record<string, number> };
  expect(r.metrics['text_to_image_R@1']).toBeGreaterThan(0);
  expect(r.metrics).toEqual(normalRet.metrics);
  expect(errors).toEqual([]);
});
