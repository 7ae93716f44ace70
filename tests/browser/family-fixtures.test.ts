/**
 * The model folders made by scripts/fixtures/make-family-fixtures.mjs (tests/fixtures/models), loaded in
 * Chromium through the model worker and checked against onnxruntime-node on the same inputs:
 * - tiny-siglip2-gemma: recognised as SigLIP 2 (Gemma tokenizer), ids padded with <pad> (0) to 64, text and
 *   image embeddings cosine ≥ 0.9999 against the native runtime (a Pets photo, so the bilinear squash runs);
 * - tiny-siglip2-external: the same weights as ONNX external data give the same embeddings (max |Δ| ≤ 1e-6);
 * - tiny-combined-only: a clear message naming what is missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from '../helpers/browser';
import { startAppServer } from '../helpers/app-server';
import { startHubServer, type LocalServer } from '../helpers/hub-server';
import { DATASETS, REPO } from '../helpers/paths';
import { cosine, normalizeRows } from '../../src/core/vector';

const FIXTURES = path.join(REPO, 'tests/fixtures/models');
const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tiny-siglip2-gemma/reference/golden.json'), 'utf8')) as {
  texts: { text: string; input_ids: number[]; input_ids_unpadded: number[] }[];
};
const PHOTO = 'oxford-pets-sample/Abyssinian/Abyssinian_101.jpg';
const P = 8;

let browser: Browser;
let app: Awaited<ReturnType<typeof startAppServer>>;
let data: LocalServer;
let page: Page;
let errors: string[];

beforeAll(async () => {
  [browser, app, data] = await Promise.all([
    launchChromium(),
    startAppServer(FIXTURES),
    startHubServer(FIXTURES, DATASETS),
  ]);
  ({ page, errors } = await openHarness(browser, app.url));
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  await data?.close();
});

/** Load a fixture on WASM and embed the golden texts and one photo; returns info, embeddings and pixels. */
async function embedWith(model: string) {
  return page.evaluate(
    async ({ base, id, img, texts }) => {
      const h = window.harness;
      const info = await h.api.load(
        { kind: 'url', id, baseUrl: base, origin: 'server' },
        { backend: 'wasm', dtype: 'auto' },
        h.proxy(() => {}),
        h.proxy(() => {}),
      );
      const blob = await h.fetchBlob(img);
      return {
        info,
        text: Array.from(await h.api.embedTexts(texts)),
        image: Array.from((await h.api.embedImages([{ name: 'photo', blob }], 'pil')).embeddings),
        px: Array.from(await h.api.pixelValues({ name: 'photo', blob }, 'pil')),
      };
    },
    {
      base: `${app.url}/models/${model}/`,
      id: model,
      img: `${data.url}/${PHOTO}`,
      texts: golden.texts.map((t) => t.text),
    },
  );
}

let gemma: Awaited<ReturnType<typeof embedWith>>;

test('SigLIP 2 fixture: family, padding and embeddings equal onnxruntime-node on the same inputs', async () => {
  gemma = await embedWith('tiny-siglip2-gemma');
  expect(gemma.info.family.id).toBe('siglip2');
  expect(gemma.info.family.reason).toContain('GemmaTokenizer');
  expect(gemma.info.tokenization).toMatchObject({ padTo: 'max-length', padId: 0 });
  expect(gemma.info.contextLength).toBe(64);
  expect(gemma.info.family.rules).toBe('SigLIP 2: sigmoid scores, text padded to 64, 32×32 squash, bilinear');

  const ort = await import('onnxruntime-node');
  const dir = path.join(FIXTURES, 'tiny-siglip2-gemma/onnx');
  const text = await ort.InferenceSession.create(path.join(dir, 'text_model.onnx'));
  const n = golden.texts.length;
  const ids = BigInt64Array.from(golden.texts.flatMap((t) => t.input_ids).map(BigInt));
  const t = await text.run({ input_ids: new ort.Tensor('int64', ids, [n, 64]) });
  const nativeText = normalizeRows(new Float32Array(t.pooler_output!.data as Float32Array), P);
  for (let i = 0; i < n; i++) {
    expect(cosine(gemma.text.slice(i * P, (i + 1) * P), nativeText.subarray(i * P, (i + 1) * P))).toBeGreaterThan(
      0.9999,
    );
  }
  // The fixture pools the last position after bidirectional mixing: ids not padded to 64 give another vector.
  const short = golden.texts[0]!.input_ids_unpadded;
  const u = await text.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(short.map(BigInt)), [1, short.length]),
  });
  const unpadded = normalizeRows(new Float32Array(u.pooler_output!.data as Float32Array), P);
  expect(cosine(gemma.text.slice(0, P), unpadded)).toBeLessThan(0.999);

  const vision = await ort.InferenceSession.create(path.join(dir, 'vision_model.onnx'));
  const v = await vision.run({ pixel_values: new ort.Tensor('float32', Float32Array.from(gemma.px), [1, 3, 32, 32]) });
  const nativeImage = normalizeRows(new Float32Array(v.pooler_output!.data as Float32Array), P);
  expect(cosine(gemma.image, nativeImage)).toBeGreaterThan(0.9999);
});

test('external data (.onnx_data): the same weights give the same embeddings', async () => {
  const ext = await embedWith('tiny-siglip2-external');
  expect(Object.keys(ext.info.files)).toEqual(
    expect.arrayContaining(['onnx/text_model.onnx_data', 'onnx/vision_model.onnx_data']),
  );
  const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
  expect(maxDiff(ext.text, gemma.text)).toBeLessThanOrEqual(1e-6);
  expect(maxDiff(ext.image, gemma.image)).toBeLessThanOrEqual(1e-6);
});

test('a repo with only a combined model.onnx gets a message naming what is missing', async () => {
  const message = await page.evaluate(async (base) => {
    const h = window.harness;
    try {
      await h.api.load(
        { kind: 'url', id: 'tiny-combined-only', baseUrl: base, origin: 'server' },
        { backend: 'wasm', dtype: 'auto' },
        h.proxy(() => {}),
        h.proxy(() => {}),
      );
      return 'loaded';
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }, `${app.url}/models/tiny-combined-only/`);
  expect(message).toContain('only the combined onnx/model.onnx');
  expect(message).toContain('onnx/text_model.onnx and onnx/vision_model.onnx');
});

test('no errors in the page', () => {
  // HEAD probes for weight variants and external data a model does not ship are expected 404s.
  expect(errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
});
