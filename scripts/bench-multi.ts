/**
 * `npm run bench -- --model A --model B [--model C …] --data <folder>`: the Compare tab's comparison,
 * headless (`--task retrieve [--captions <file>]`: text↔image retrieval on a captioned folder). Each model runs in turn through the same state as the UI (one resident at a time, the
 * embedding cache shared), then the JSON holds each model's usual results plus
 * `comparison: { pairs: [{ a, b, both_right, only_a, only_b, both_wrong, mcnemar_p, acc_diff, acc_diff_ci95, … }] }`;
 * for retrieval each pair holds `text_to_image` and `image_to_text`, each `{ "R@1" | "R@5" | "R@10": { n,
 * both_right, only_a, only_b, both_wrong, mcnemar_p, recall_diff, recall_diff_ci95 } }`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { isPresetId } from '../src/core/templates';
import type { ModelSource } from '../src/data/model-files';
import '../tests/helpers/zsw';

export interface MultiOptions {
  task: 'classify' | 'retrieve';
  /** A caption file for --task retrieve (otherwise the folder's own). */
  captions?: string;
  /** Concept counts (--frequencies): each model's per-class accuracy fitted against them, a line per model. */
  frequencies?: string;
  sources: ModelSource[];
  dataDir: string;
  templates: string;
  backend: string;
  dtype: string;
  /** Scale and bias per model id (`--model-scalars id=scale,bias`), for SigLIP exports without them. */
  scalars: Record<string, { scale: number; bias: number }>;
  out: string;
}

/** Parse `--model-scalars id=scale,bias` values. */
export function parseModelScalars(
  values: readonly string[],
  fail: (m: string) => never,
): Record<string, { scale: number; bias: number }> {
  const out: Record<string, { scale: number; bias: number }> = {};
  for (const v of values) {
    const m = /^(.+)=([^,]+),([^,]+)$/.exec(v);
    const scale = Number(m?.[2]);
    const bias = Number(m?.[3]);
    if (!m || !Number.isFinite(scale) || !Number.isFinite(bias))
      fail(`--model-scalars ${v}: expected <model id>=<scale>,<bias> (e.g. toy-siglip-cifar10=8.41668,-4.560376).`);
    out[m[1]!] = { scale, bias };
  }
  return out;
}

export async function benchMulti(page: Page, o: MultiOptions, fail: (m: string) => never): Promise<void> {
  for (const id of Object.keys(o.scalars))
    if (!o.sources.some((s) => s.id === id)) fail(`--model-scalars ${id}: no --model has that id.`);
  if (o.task === 'retrieve') return benchMultiRetrieve(page, o, fail);
  if (!isPresetId(o.templates))
    fail(`--templates ${o.templates}: with several models, use a preset (openai80, openai7, simple).`);
  await page.getByTestId('compare-folder-input').setInputFiles(o.dataDir);
  await page.waitForFunction(() => window.zsw.compare.cls.dataset !== null || window.zsw.compare.cls.error !== null);
  const intakeError = await page.evaluate(() => window.zsw.compare.cls.error);
  if (intakeError) fail(`${o.dataDir}: ${intakeError.message}`);
  await page.getByTestId('compare-template-choice').selectOption(o.templates);
  const wallMs = await addAndRun(page, o, fail);
  if (o.frequencies) {
    const text = fs.readFileSync(o.frequencies, 'utf8');
    const name = path.basename(o.frequencies);
    const ok = await page.evaluate(([n, t]) => window.zsw.compare.frequency.importText(n, t), [name, text] as const);
    if (!ok) fail(`${o.frequencies}: ${(await page.evaluate(() => window.zsw.compare.frequency.error))?.message}`);
  }
  const json = (await page.evaluate(() => window.zsw.compare.comparisonJson())) as {
    frequency: { models: { model: string; slope_per_decade?: number; pearson_r?: number }[] } | null;
    models: { model: string; family: string; acc1: number; images_per_sec: number | null; backend: string }[];
    comparison: {
      pairs: {
        a: string;
        b: string;
        both_right: number;
        only_a: number;
        only_b: number;
        both_wrong: number;
        mcnemar_p: number;
        acc_diff: number;
        acc_diff_ci95: number[];
      }[];
    };
  };
  fs.writeFileSync(o.out, JSON.stringify({ ...json, bench: { data: o.dataDir, run_wall_ms: wallMs } }, null, 1));
  for (const m of json.models)
    console.log(
      `${m.model} (${m.family}, ${m.backend}): acc1 ${(100 * m.acc1).toFixed(2)}% · ${m.images_per_sec ?? 'cached'} images/s`,
    );
  for (const p of json.comparison.pairs)
    console.log(
      `${p.a} vs ${p.b}: both right ${p.both_right}, only A ${p.only_a}, only B ${p.only_b}, both wrong ${p.both_wrong} · ` +
        `McNemar p ${p.mcnemar_p.toPrecision(4)} · B − A ${(100 * p.acc_diff).toFixed(2)} points ` +
        `[${p.acc_diff_ci95.map((x) => (100 * x).toFixed(2)).join(', ')}]`,
    );
  for (const f of json.frequency?.models ?? [])
    console.log(
      `${f.model}: ${f.slope_per_decade === undefined ? 'no fit (fewer than 3 matched classes)' : `${(100 * f.slope_per_decade).toFixed(1)} points per 10× data, r ${f.pearson_r!.toFixed(3)}`}`,
    );
  console.log(`comparison of ${json.models.length} models in ${Math.round(wallMs / 1000)} s → ${path.resolve(o.out)}`);
}

/** Add every --model to the comparison and run it; the run's wall time in ms. */
async function addAndRun(page: Page, o: MultiOptions, fail: (m: string) => never): Promise<number> {
  for (const s of o.sources) {
    const added = await page.evaluate(([src, b, d, sc]) => window.zsw.compare.add(src, b, d, sc ?? undefined), [
      s,
      o.backend,
      o.dtype,
      o.scalars[s.id] ?? null,
    ] as const);
    if (!added) fail(`--model ${s.id}: ${(await page.evaluate(() => window.zsw.compare.error))?.message}`);
  }
  const t0 = Date.now();
  const ok = await page.evaluate(() => window.zsw.compare.start());
  if (!ok)
    fail(
      `the comparison stopped: ${(await page.evaluate(() => window.zsw.compare.error))?.message ?? 'unknown error'}`,
    );
  return Date.now() - t0;
}

interface RecallPair {
  n: number;
  both_right: number;
  only_a: number;
  only_b: number;
  both_wrong: number;
  mcnemar_p: number;
  recall_diff: number;
  recall_diff_ci95: number[];
}

async function benchMultiRetrieve(page: Page, o: MultiOptions, fail: (m: string) => never): Promise<void> {
  await page.getByTestId('compare-task-retrieve').check();
  await page.getByTestId('compare-folder-input').setInputFiles(o.dataDir);
  await page.waitForFunction(() => {
    const r = window.zsw.compare.retrieval.ret;
    return r.dataset !== null || r.error !== null;
  });
  if (o.captions) {
    await page.getByTestId('compare-captions-input').setInputFiles(path.resolve(o.captions));
    await page.waitForFunction((n) => {
      const r = window.zsw.compare.retrieval.ret;
      return r.dataset?.captionSource === n || r.error !== null;
    }, path.basename(o.captions));
  }
  const intake = await page.evaluate(() => {
    const r = window.zsw.compare.retrieval.ret;
    return { error: r.error?.message ?? null, captions: r.dataset?.match?.captions.length ?? 0 };
  });
  if (intake.error) fail(`${o.captions ?? o.dataDir}: ${intake.error}`);
  if (intake.captions === 0) fail(`${o.dataDir}: no captions were found (give --captions <file>).`);
  const wallMs = await addAndRun(page, o, fail);
  const json = (await page.evaluate(() => window.zsw.compare.comparisonJson())) as {
    models: Record<string, number | string | null>[];
    comparison: {
      pairs: {
        a: string;
        b: string;
        text_to_image: Record<string, RecallPair>;
        image_to_text: Record<string, RecallPair>;
      }[];
    };
  };
  fs.writeFileSync(o.out, JSON.stringify({ ...json, bench: { data: o.dataDir, run_wall_ms: wallMs } }, null, 1));
  const pc = (v: unknown) => `${(100 * Number(v)).toFixed(2)}%`;
  const recalls = (m: Record<string, unknown>, d: string) => [1, 5, 10].map((k) => pc(m[`${d}_R@${k}`])).join(' / ');
  for (const m of json.models)
    console.log(
      `${m.model} (${m.family}, ${m.backend}): text→image R@1/5/10 ${recalls(m, 'text_to_image')} · ` +
        `image→text ${recalls(m, 'image_to_text')} · ${m.images_per_sec ?? 'cached'} images/s`,
    );
  for (const p of json.comparison.pairs)
    for (const d of ['text_to_image', 'image_to_text'] as const) {
      const r = p[d]['R@5']!;
      console.log(
        `${p.a} vs ${p.b}, ${d} R@5 on ${r.n} queries: both ${r.both_right}, only A ${r.only_a}, only B ${r.only_b}, ` +
          `neither ${r.both_wrong} · McNemar p ${r.mcnemar_p.toPrecision(4)} · B − A ` +
          `${(100 * r.recall_diff).toFixed(2)} points [${r.recall_diff_ci95.map((x) => (100 * x).toFixed(2)).join(', ')}]`,
      );
    }
  console.log(`comparison of ${json.models.length} models in ${Math.round(wallMs / 1000)} s → ${path.resolve(o.out)}`);
}
