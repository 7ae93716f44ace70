/**
 * Classification and retrieval parity for the non-CLIP families, through the page's own intake, workers and
 * metrics code, against the fixtures' PyTorch / onnxruntime references:
 * - toy-siglip-cifar10 (SigLIP rules), WASM, 1,000 dev images, 'a photo of a {}.': acc1, acc5 and mean
 *   per-class recall within ±0.3 points; ≥ 99 % identical predictions; every reported top-5 probability is
 *   σ(scale · cos + bias) within 1e-3 of the reference's, with the scale and bias of the fixture's README
 *   entered on the model card (they are in no file of the model);
 * - the same on WebGPU (SwiftShader, a CPU emulation) on every 10th dev image;
 * - toy-mobileclip-layout (bilinear, no normalisation, minimal config), WASM, 1,000 dev images;
 * - toy-siglip-cifar10 retrieval on COCO-mini: Recall@K equal to the reference (±0.5 / ±1 point as the CLIP
 *   retrieval e2e), ≥ 95 % identical per-caption ranks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS, MODELS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

interface Ref {
  classnames: string[];
  top1: number;
  top5: number;
  balanced_accuracy: number;
  logit_scale: number;
  logit_bias?: number;
  per_image: { file: string; pred: number; sigmoid?: number[] }[];
}
interface Results {
  backend: string;
  model: { family: { id: string }; scoring: { kind: string; scale: number; bias: number; bias_source: string } };
  metrics: { acc1: number; acc5: number; mean_per_class_recall: number; probabilities: string };
  predictions: { file: string; pred: string; top5: [string, number][] }[];
}

const DEV = path.join(DATASETS, 'cifar10/dev');
const COCO = path.join(DATASETS, 'coco-mini-captions');
const reference = (model: string, name: string) =>
  JSON.parse(fs.readFileSync(path.join(MODELS, model, 'reference', `${name}.json`), 'utf8')) as Ref;

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let subset: string;

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startBuiltApp()]);
  subset = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-family-subset-'));
  for (const cls of fs.readdirSync(DEV).filter((c) => fs.statSync(path.join(DEV, c)).isDirectory())) {
    fs.mkdirSync(path.join(subset, cls));
    const files = fs.readdirSync(path.join(DEV, cls)).sort();
    files.forEach((f, i) => i % 10 === 0 && fs.copyFileSync(path.join(DEV, cls, f), path.join(subset, cls, f)));
  }
});
afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  fs.rmSync(subset, { recursive: true, force: true });
});

async function openWithModel(model: string, backend: 'wasm' | 'webgpu', mode = 'classify') {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`${app.url}/?mode=${mode}`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${app.url}/models/${model}/`, 'server', model);
  expect(await page.evaluate(([s, b]) => window.zsw.engine.load(s, b, 'auto'), [source, backend] as const)).toBe(true);
  return { page, errors };
}

async function classify(page: Page, folder: string): Promise<Results> {
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.waitForFunction(() => window.zsw.classify.dataset !== null);
  await page.getByTestId('template-choice').selectOption('simple');
  expect(await page.evaluate(() => window.zsw.classify.start())).toBe(true);
  return (await page.evaluate(() => window.zsw.classify.resultsJson())) as unknown as Results;
}

function compare(res: Results, ref: Ref, n: number) {
  const byFile = new Map(ref.per_image.map((r) => [r.file, r]));
  let agree = 0;
  let maxProbDiff = 0;
  for (const p of res.predictions) {
    const r = byFile.get(p.file)!;
    if (ref.classnames[r.pred] === p.pred) agree += 1;
    if (r.sigmoid) {
      for (const [cls, prob] of p.top5) {
        maxProbDiff = Math.max(maxProbDiff, Math.abs(prob - r.sigmoid[ref.classnames.indexOf(cls)]!));
      }
    }
  }
  expect(res.predictions).toHaveLength(n);
  return { agree, maxProbDiff };
}

describe('toy-siglip-cifar10', () => {
  const ref = reference('toy-siglip-cifar10', 'dev-single');

  test('WASM, 1,000 dev images: metrics and sigmoid probabilities equal the reference', async () => {
    const { page, errors } = await openWithModel('toy-siglip-cifar10', 'wasm');
    await expect.poll(() => page.getByTestId('family').textContent()).toContain('SigLIP: sigmoid scores');
    expect(await page.evaluate(() => window.zsw.engine.hasProbabilities)).toBe(false);
    // The scalars are in no file of the model: entered on the model card, as a user would.
    await page.getByRole('textbox', { name: 'Scale' }).fill(String(ref.logit_scale));
    await page.getByRole('textbox', { name: 'Bias' }).fill(String(ref.logit_bias));
    await page.getByRole('button', { name: 'Use these' }).click();
    expect(await page.evaluate(() => window.zsw.engine.hasProbabilities)).toBe(true);
    await expect.poll(() => page.getByTestId('scoring').textContent()).toContain('bias: entered by you');

    const res = await classify(page, DEV);
    expect(res.backend).toBe('wasm');
    expect(res.model.family.id).toBe('siglip');
    expect(res.model.scoring).toMatchObject({ kind: 'sigmoid', bias_source: 'user' });
    expect(res.metrics.probabilities).toBe('sigmoid per label');
    expect(Math.abs(res.metrics.acc1 - ref.top1)).toBeLessThanOrEqual(0.003);
    expect(Math.abs(res.metrics.acc5 - ref.top5)).toBeLessThanOrEqual(0.003);
    expect(Math.abs(res.metrics.mean_per_class_recall - ref.balanced_accuracy)).toBeLessThanOrEqual(0.003);
    const { agree, maxProbDiff } = compare(res, ref, 1000);
    console.log(
      `toy-siglip wasm: acc1 ${res.metrics.acc1} (ref ${ref.top1}), acc5 ${res.metrics.acc5} (ref ${ref.top5}), ` +
        `mpcr ${res.metrics.mean_per_class_recall}, identical ${agree}/1000, max |Δ sigmoid| ${maxProbDiff.toExponential(2)}`,
    );
    expect(agree).toBeGreaterThanOrEqual(990);
    expect(maxProbDiff).toBeLessThan(1e-3);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('WebGPU, every 10th dev image: ≥ 99 % identical predictions', async () => {
    const { page, errors } = await openWithModel('toy-siglip-cifar10', 'webgpu');
    const res = await classify(page, subset);
    expect(res.backend).toBe('webgpu');
    const { agree } = compare(res, ref, 100);
    console.log(`toy-siglip webgpu: identical ${agree}/100, acc1 ${res.metrics.acc1}`);
    expect(agree).toBeGreaterThanOrEqual(99);
    expect(errors).toEqual([]);
    await page.close();
  });

  test('COCO-mini retrieval equals the reference', async () => {
    const rref = JSON.parse(
      fs.readFileSync(path.join(MODELS, 'toy-siglip-cifar10/reference/retrieval-coco-mini.json'), 'utf8'),
    ) as { metrics: Record<string, number>; per_caption_rank: number[] };
    const { page, errors } = await openWithModel('toy-siglip-cifar10', 'wasm', 'retrieve');
    await page.getByTestId('retrieval-folder-input').setInputFiles(COCO);
    await expect.poll(() => page.getByTestId('retrieval-summary').textContent()).toMatch(/239 images · 1,195 captions/);
    await page.getByTestId('run-retrieval').click();
    await page.getByTestId('retrieval-metrics').waitFor({ timeout: 300_000 });
    const r = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as unknown as {
      metrics: Record<string, number>;
      per_query: { text_to_image: { rank: number }[] };
    };
    for (const k of [1, 5, 10]) {
      expect(Math.abs(r.metrics[`text_to_image_R@${k}`]! - rref.metrics[`text_to_image_R@${k}`]!)).toBeLessThanOrEqual(
        0.005,
      );
      expect(Math.abs(r.metrics[`image_to_text_R@${k}`]! - rref.metrics[`image_to_text_R@${k}`]!)).toBeLessThanOrEqual(
        0.01,
      );
    }
    const same = r.per_query.text_to_image.filter((q, i) => q.rank === rref.per_caption_rank[i]).length;
    console.log(
      `toy-siglip COCO-mini: t2i R@1/5/10 ${[1, 5, 10].map((k) => r.metrics[`text_to_image_R@${k}`]!.toFixed(4)).join('/')}, ` +
        `i2t ${[1, 5, 10].map((k) => r.metrics[`image_to_text_R@${k}`]!.toFixed(4)).join('/')}, identical ranks ${same}/1195`,
    );
    expect(same / 1195).toBeGreaterThanOrEqual(0.95);
    expect(errors).toEqual([]);
    await page.close();
  });
});

test('toy-mobileclip-layout, WASM, 1,000 dev images: metrics equal the reference', async () => {
  const ref = reference('toy-mobileclip-layout', 'dev-single');
  const { page, errors } = await openWithModel('toy-mobileclip-layout', 'wasm');
  const res = await classify(page, DEV);
  expect(res.model.family.id).toBe('mobileclip');
  expect(Math.abs(res.metrics.acc1 - ref.top1)).toBeLessThanOrEqual(0.003);
  expect(Math.abs(res.metrics.acc5 - ref.top5)).toBeLessThanOrEqual(0.003);
  expect(Math.abs(res.metrics.mean_per_class_recall - ref.balanced_accuracy)).toBeLessThanOrEqual(0.003);
  const { agree } = compare(res, ref, 1000);
  console.log(`toy-mobileclip wasm: acc1 ${res.metrics.acc1} (ref ${ref.top1}), identical ${agree}/1000`);
  expect(agree).toBeGreaterThanOrEqual(990);
  expect(errors).toEqual([]);
  await page.close();
});
