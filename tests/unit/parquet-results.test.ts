/**
 * Results out as Parquet: DuckDB (npm build) reads the file back and its per-class accuracy, top-1,
 * top-k lists, slice columns and embeddings equal the run's own; bad slice lengths are refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { computeMetrics, predict } from '../../src/core/metrics';
import { resultsParquet } from '../../src/core/parquet-results';
import type { ClassifyRun } from '../../src/core/results';
import { matmulT, normalizeRows } from '../../src/core/vector';
import { runDuckDb } from '../helpers/duckdb';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-parquet-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A run scored by the app's own predict/computeMetrics over random unit embeddings. */
function makeRun(n: number, numClasses: number, dim: number, seed = 3) {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  const classEmb = normalizeRows(Float32Array.from({ length: numClasses * dim }, rand), dim);
  const labels = Int32Array.from({ length: n }, (_, i) => i % numClasses);
  // Each image near its class's embedding, with enough noise that some are wrong.
  const images = normalizeRows(
    Float32Array.from(
      { length: n * dim },
      (_, j) => classEmb[labels[Math.floor(j / dim)]! * dim + (j % dim)]! + rand(),
    ),
    dim,
  );
  const predictions = predict(matmulT(images, classEmb, dim), numClasses, 100);
  const metrics = computeMetrics(predictions, labels, numClasses);
  const classes = Array.from({ length: numClasses }, (_, c) => `class_${c}`);
  const run = {
    manifest: {
      app_version: 'test',
      date: '2026-01-01T00:00:00Z',
      model: { id: 'toy', origin: 'test', files: {}, logit_scale: 100, logit_scale_source: 'test', embedding_dim: dim },
      backend: 'wasm',
      dtype: 'fp32',
      preprocessing: {},
      templates: { name: 'simple', count: 1, list: ['a photo of a {}.'] },
    },
    classes,
    classNames: classes.map((c) => c.replace('_', ' ')),
    totalImages: n,
    failed: [],
    notes: [],
    skipped: [],
    files: Array.from({ length: n }, (_, i) => `${classes[labels[i]!]}/img_${i}.png`),
    labels,
    metrics,
    predictions,
    perTemplate: null,
    perTemplateImages: 0,
  } as unknown as ClassifyRun;
  return { run, images };
}

describe('Parquet results', () => {
  const { run, images } = makeRun(300, 7, 16);
  const file = path.join(dir, 'run.parquet');
  const region = run.files.map((_, i) => (i % 3 === 0 ? null : i % 3 === 1 ? 'north' : 'south'));
  fs.writeFileSync(
    file,
    new Uint8Array(
      resultsParquet(run, {
        slices: [
          { name: 'region', values: region },
          { name: 'label', values: run.files.map(() => 'x') },
        ],
        embeddings: { data: images, dim: 16 },
      }),
    ),
  );

  test('DuckDB gives the same accuracy per class as the app', async () => {
    const rows = await runDuckDb(
      `SELECT label, count(*) AS n, avg(correct::INT) AS recall FROM read_parquet('${file}') GROUP BY label ORDER BY label`,
    );
    expect(rows.map((r) => r.label)).toEqual(run.classes);
    rows.forEach((r, c) => {
      expect(Number(r.n)).toBe(run.metrics.perClass[c]!.support);
      expect(Number(r.recall)).toBeCloseTo(run.metrics.perClass[c]!.recall, 12);
    });
    // some right and some wrong, so the comparison means something
    expect(run.metrics.acc1).toBeGreaterThan(0.2);
    expect(run.metrics.acc1).toBeLessThan(1);
  });

  test('top-k lists, scores, slices (renamed when they clash) and embeddings read back', async () => {
    const rows = await runDuckDb(
      `SELECT file, pred, score, top_classes, top_scores, region, slice_label, embedding FROM read_parquet('${file}')`,
    );
    expect(rows).toHaveLength(300);
    const k = run.predictions.k;
    rows.forEach((r, i) => {
      expect(r.file).toBe(run.files[i]);
      expect(r.pred).toBe(run.classes[run.predictions.topk[i * k]!]);
      expect(r.top_classes).toEqual(Array.from({ length: k }, (_, j) => run.classes[run.predictions.topk[i * k + j]!]));
      expect(Number(r.score)).toBe(run.predictions.topkProb[i * k]);
      expect((r.top_scores as number[]).map(Number)).toEqual(
        Array.from(run.predictions.topkProb.subarray(i * k, i * k + k)),
      );
      expect(r.region).toBe(region[i]);
      expect(r.slice_label).toBe('x');
      expect((r.embedding as number[]).map(Number)).toEqual(Array.from(images.subarray(i * 16, i * 16 + 16)));
    });
  });

  test('the manifest travels as key/value metadata', async () => {
    const rows = await runDuckDb(
      `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${file}') WHERE decode(key) = 'zsw.classes'`,
    );
    expect(JSON.parse(String(rows[0]!.value))).toMatchObject({ class_0: 'class 0' });
  });

  test('a slice or embedding of the wrong length is refused with the reason', () => {
    expect(() => resultsParquet(run, { slices: [{ name: 'age', values: ['1'] }] })).toThrow(
      /“age” has 1 values for 300 scored images/,
    );
    expect(() => resultsParquet(run, { embeddings: { data: new Float32Array(32), dim: 16 } })).toThrow(
      /2 rows of 16 for 300/,
    );
  });
});
