/**
 * Numerical parity of the whole in-browser pipeline (decode → PIL-exact preprocessing → ONNX on
 * onnxruntime-web → normalization) with the PyTorch reference of the toy CIFAR-10 model, in real
 * headless Chromium, on WASM and on WebGPU (SwiftShader here).
 * Tolerances: cosine ≥ 0.999 per embedding (the bar); pixel_values sum within 1e-2 of the
 * reference over 150,528 values (one grey level on one pixel moves it by ≈ 0.0146, so this catches a
 * single-pixel difference), first 8 values within 1e-5.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startAppServer } from '../helpers/app-server';
import { startHubServer, type LocalServer } from '../helpers/hub-server';
import { MODELS, DATASETS } from '../helpers/paths';
import { cosine } from '../../src/core/vector';

interface Golden {
  images: {
    file: string;
    image_embeds_normalized: number[];
    pixel_values_sum: number;
    pixel_values_first8: number[];
  }[];
  texts: { text: string; text_embeds_normalized: number[] }[];
  class_text_embeds_normalized: Record<string, number[][]>;
}

const MODEL = 'toy-clip-cifar10';
const golden = JSON.parse(fs.readFileSync(path.join(MODELS, MODEL, 'reference/golden.json'), 'utf8')) as Golden;
const classes = JSON.parse(fs.readFileSync(path.join(DATASETS, 'cifar10/classes.json'), 'utf8')) as {
  folder: string;
  clip_name: string;
}[];

let browser: Browser;
let app: Awaited<ReturnType<typeof startAppServer>>;
let data: LocalServer;

beforeAll(async () => {
  [browser, app, data] = await Promise.all([launchChromium(), startAppServer(), startHubServer(MODELS, DATASETS)]);
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  await data?.close();
});

async function openHarness(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(`${app.url}/tests/browser/harness.html`);
  await page.waitForFunction(() => window.harness?.ready === true);
  return { page, errors };
}

for (const backend of ['wasm', 'webgpu'] as const) {
  describe(`toy-clip-cifar10 on ${backend}`, () => {
    let page: Page;
    let errors: string[];

    beforeAll(async () => {
      ({ page, errors } = await openHarness());
    });

    test('loads with the requested backend and reports it', async () => {
      const info = await page.evaluate(
        async ({ base, backend }) => {
          const h = window.harness;
          return h.api.load(
            { kind: 'url', id: 'toy', baseUrl: base, origin: 'server' },
            { backend, dtype: 'auto' },
            h.proxy(() => {}),
            h.proxy(() => {}),
          );
        },
        { base: `${app.url}/models/${MODEL}/`, backend },
      );
      expect(info.backend).toBe(backend);
      expect(info.dtype).toBe('fp32');
      expect(info.embeddingDim).toBe(64);
      expect(info.logitScale).toBeCloseTo(13.2145, 3);
      expect(info.contextLength).toBe(77);
      if (backend === 'wasm') expect(info.probe.crossOriginIsolated).toBe(true);
    });

    test('pixel_values match the PIL reference checksums', async () => {
      const results = await page.evaluate(
        async ({ base, files }) => {
          const h = window.harness;
          const out: { sum: number; first8: number[] }[] = [];
          for (const f of files) {
            const px = await h.api.pixelValues({ name: f, blob: await h.fetchBlob(base + f) }, 'pil');
            let sum = 0;
            for (const v of px) sum += v;
            out.push({ sum, first8: Array.from(px.subarray(0, 8)) });
          }
          return out;
        },
        { base: `${data.url}/cifar10/dev/`, files: golden.images.map((g) => g.file) },
      );
      results.forEach((r, i) => {
        const g = golden.images[i]!;
        expect(Math.abs(r.sum - g.pixel_values_sum), g.file).toBeLessThan(1e-3);
        r.first8.forEach((v, k) => expect(Math.abs(v - g.pixel_values_first8[k]!)).toBeLessThan(1e-5));
      });
    });

    test('image embeddings reproduce the reference (cosine ≥ 0.999 each)', async () => {
      const res = await page.evaluate(
        async ({ base, files }) => {
          const h = window.harness;
          const items = await Promise.all(files.map(async (f) => ({ name: f, blob: await h.fetchBlob(base + f) })));
          const r = await h.api.embedImages(items, 'pil');
          return { emb: Array.from(r.embeddings), dim: r.dim, failed: r.failed };
        },
        { base: `${data.url}/cifar10/dev/`, files: golden.images.map((g) => g.file) },
      );
      expect(res.failed).toEqual([]);
      const cos = golden.images.map((g, i) => cosine(res.emb.slice(i * 64, (i + 1) * 64), g.image_embeds_normalized));
      expect(Math.min(...cos)).toBeGreaterThanOrEqual(0.999);
    });

    test('text embeddings reproduce the reference (cosine ≥ 0.999 each)', async () => {
      const singles = classes.map((c) => `a photo of a ${c.clip_name}.`);
      const texts = [...golden.texts.map((t) => t.text), ...singles];
      const emb = await page.evaluate(async (t) => Array.from(await window.harness.api.embedTexts(t)), texts);
      const expected = [
        ...golden.texts.map((t) => t.text_embeds_normalized),
        ...golden.class_text_embeds_normalized.single!,
      ];
      const cos = expected.map((e, i) => cosine(emb.slice(i * 64, (i + 1) * 64), e));
      expect(cos).toHaveLength(12);
      expect(Math.min(...cos)).toBeGreaterThanOrEqual(0.999);
    });

    test('no errors in the page', () => {
      // HEAD probes for the dtypes this model does not ship (fp16, q8) are expected 404s.
      expect(errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
    });
  });
}
