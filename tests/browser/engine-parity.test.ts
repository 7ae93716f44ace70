/**
 * Numerical parity of the whole in-browser pipeline (decode → PIL-exact preprocessing → ONNX on
 * onnxruntime-web → normalization) with the PyTorch reference of the toy CIFAR-10 model, in real
 * headless Chromium, on WASM and on WebGPU (SwiftShader here).
 * Tolerances: cosine ≥ 0.999 per embedding (the bar); pixel_values sum within 1e-2 of the
 * reference over 150,528 values (one grey level on one pixel moves it by ≈ 0.0146, so this catches a
 * single-pixel difference), first 8 values within 1e-5.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from '../helpers/browser';
import { startAppServer } from '../helpers/app-server';
import { startHubServer, type LocalServer } from '../helpers/hub-server';
import { MODELS, DATASETS } from '../helpers/paths';
import { cosine } from '../../src/core/vector';
import { MODEL_CACHE_NAME } from '../../src/data/model-fetch';

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

const textTower = (page: Page) => page.evaluate(async () => (await window.harness.api.encodeCounts()).textTower);

const harness = () => openHarness(browser, app.url);

for (const backend of ['wasm', 'webgpu'] as const) {
  describe(`toy-clip-cifar10 on ${backend}`, () => {
    let page: Page;
    let errors: string[];

    beforeAll(async () => {
      ({ page, errors } = await harness());
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
      // Each file was downloaded into the cache, then split as it was read from there: on WASM each weight was
      // copied into the heap, on WebGPU uploaded to its GPU buffer, from a piece of its own.
      expect(await page.evaluate(async () => (await window.harness.api.encodeCounts()).loadedFrom)).toEqual({
        text: 'pieces',
        vision: 'pieces',
      });
      // On WASM the text tower was probed for its size and closed; its session is made at the first text.
      expect(await textTower(page)).toEqual({ resident: backend === 'webgpu', loadMs: [], loadedFrom: [] });
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
      // Images need no text tower: on WASM it is still not loaded.
      expect((await textTower(page))?.resident).toBe(backend === 'webgpu');
      const cos = golden.images.map((g, i) => cosine(res.emb.slice(i * 64, (i + 1) * 64), g.image_embeds_normalized));
      console.log(`${backend} image embeddings: min cosine ${Math.min(...cos).toFixed(7)} over ${cos.length} images`);
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
      // The first text made the text tower's session on WASM (timed); the next texts use it.
      const after = await textTower(page);
      expect(after?.resident).toBe(true);
      expect(after?.loadMs).toHaveLength(backend === 'wasm' ? 1 : 0);
      if (backend === 'wasm') expect(after!.loadMs[0]).toBeGreaterThan(0);
      // On WASM its file was split as it was read from the download cache, never whole (core/onnx-split.ts).
      expect(after?.loadedFrom).toEqual(backend === 'wasm' ? ['pieces'] : []);
      await page.evaluate(() => window.harness.api.embedTexts(['a photo of a dog.']));
      expect((await textTower(page))?.loadMs).toEqual(after?.loadMs);
      expect(cos).toHaveLength(12);
      console.log(`${backend} text embeddings: min cosine ${Math.min(...cos).toFixed(7)} over ${cos.length} prompts`);
      expect(Math.min(...cos)).toBeGreaterThanOrEqual(0.999);
    });

    test('no errors in the page', () => {
      // HEAD probes for the dtypes this model does not ship (fp16, q8) are expected 404s.
      expect(errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
    });
  });
}

describe('a text tower read again after the load', () => {
  test('is refused, naming the file, when it is not the file the load read (here: another model in the cache)', async () => {
    const { page } = await harness();
    const r = await page.evaluate(
      async ({ base, other, img, cacheName }) => {
        const h = window.harness;
        const info = await h.api.load(
          { kind: 'url', id: 'toy', baseUrl: base, origin: 'server' },
          { backend: 'wasm', dtype: 'fp32' },
          h.proxy(() => {}),
          h.proxy(() => {}),
        );
        // The load cached the file; put another model's text tower in its place.
        const cache = await caches.open(cacheName);
        const url = `${base}onnx/text_model.onnx`;
        const had = (await cache.match(url)) !== undefined;
        const bytes = await (await fetch(`${other}onnx/text_model.onnx`)).arrayBuffer();
        const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) };
        await cache.put(url, new Response(bytes, { headers }));
        const error = await h.api.embedTexts(['a photo of a cat.']).then(
          () => null,
          (e: unknown) => String(e instanceof Error ? e.message : e),
        );
        // Images still run: the vision tower is untouched.
        const r = await h.api.embedImages([{ name: 'x', blob: await h.fetchBlob(img) }], 'pil');
        return { backend: info.backend, had, error, images: r.embeddings.length / r.dim, failed: r.failed };
      },
      {
        base: `${app.url}/models/toy-clip-cifar10/`,
        other: `${app.url}/models/tiny-random-clip/`,
        img: `${data.url}/cifar10/dev/${golden.images[0]!.file}`,
        cacheName: MODEL_CACHE_NAME,
      },
    );
    expect(r.images).toBe(1);
    expect(r.failed).toEqual([]);
    expect(r.backend).toBe('wasm');
    expect(r.had).toBe(true);
    expect(r.error).toMatch(/onnx\/text_model\.onnx is not the file the model was loaded with/);
    await page.close();
  });
});

describe('tower files split as they are read on WASM: at the load, and for a text tower made after it', () => {
  const modelDir = path.join(MODELS, MODEL);
  const modelFiles = fs
    .readdirSync(modelDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.startsWith('reference') && fs.statSync(path.join(modelDir, f)).isFile());
  const expected = golden.texts.map((t) => t.text_embeds_normalized);
  const minCosine = (emb: number[]) => Math.min(...expected.map((e, i) => cosine(emb.slice(i * 64, (i + 1) * 64), e)));

  const imageCosines = (emb: number[]) =>
    golden.images.map((g, i) => cosine(emb.slice(i * 64, (i + 1) * 64), g.image_embeds_normalized));
  const sha256 = (f: string) =>
    createHash('sha256')
      .update(fs.readFileSync(path.join(modelDir, f)))
      .digest('hex');

  test('from a picked folder: the load and the first text split each file as it is read, with the reference embeddings', async () => {
    const { page } = await harness();
    const r = await page.evaluate(
      async ({ base, names, texts, img, images }) => {
        const h = window.harness;
        const files: Record<string, File> = {};
        for (const n of names) files[n] = new File([await h.fetchBlob(base + n)], n.split('/').pop()!);
        await h.api.load(
          { kind: 'files', id: 'toy', files, origin: 'folder' },
          { backend: 'wasm', dtype: 'fp32' },
          h.proxy(() => {}),
          h.proxy(() => {}),
        );
        const loadedFrom = (await h.api.encodeCounts()).loadedFrom;
        const items = await Promise.all(images.map(async (f) => ({ name: f, blob: await h.fetchBlob(img + f) })));
        const res = await h.api.embedImages(items, 'pil');
        const emb = Array.from(await h.api.embedTexts(texts));
        const hashes = await h.api.fileHashes();
        return {
          loadedFrom,
          images: Array.from(res.embeddings),
          emb,
          tower: (await h.api.encodeCounts()).textTower,
          hashes,
        };
      },
      {
        base: `${app.url}/models/${MODEL}/`,
        names: modelFiles,
        texts: golden.texts.map((t) => t.text),
        img: `${data.url}/cifar10/dev/`,
        images: golden.images.map((g) => g.file),
      },
    );
    expect(r.loadedFrom).toEqual({ text: 'pieces', vision: 'pieces' });
    expect(Math.min(...imageCosines(r.images))).toBeGreaterThanOrEqual(0.999);
    expect(r.tower?.loadedFrom).toEqual(['pieces']);
    expect(minCosine(r.emb)).toBeGreaterThanOrEqual(0.999);
    // The run manifest's SHA-256 of each tower file was made as the file streamed in.
    for (const f of ['onnx/text_model.onnx', 'onnx/vision_model.onnx']) expect(r.hashes[f], f).toBe(sha256(f));
    await page.close();
  });

  test('from the Hub layout: downloaded into the cache and split from there, at the first load and the next, with the reference embeddings', async () => {
    const { page } = await harness();
    const r = await page.evaluate(
      async ({ base, img, images }) => {
        const h = window.harness;
        const load = async () => {
          await h.api.load(
            { kind: 'url', id: 'toy', baseUrl: base, origin: 'server' },
            { backend: 'wasm', dtype: 'fp32' },
            h.proxy(() => {}),
            h.proxy(() => {}),
          );
          return (await h.api.encodeCounts()).loadedFrom;
        };
        const first = await load();
        const second = await load();
        const items = await Promise.all(images.map(async (f) => ({ name: f, blob: await h.fetchBlob(img + f) })));
        const res = await h.api.embedImages(items, 'pil');
        return { first, second, images: Array.from(res.embeddings), hashes: await h.api.fileHashes() };
      },
      {
        base: `${app.url}/models/${MODEL}/`,
        img: `${data.url}/cifar10/dev/`,
        images: golden.images.map((g) => g.file),
      },
    );
    expect(r.first).toEqual({ text: 'pieces', vision: 'pieces' });
    expect(r.second).toEqual({ text: 'pieces', vision: 'pieces' });
    expect(Math.min(...imageCosines(r.images))).toBeGreaterThanOrEqual(0.999);
    for (const f of ['onnx/text_model.onnx', 'onnx/vision_model.onnx']) expect(r.hashes[f], f).toBe(sha256(f));
    await page.close();
  });

  test('no longer in the download cache: downloaded into it again and split from there, with the reference embeddings', async () => {
    const { page } = await harness();
    const r = await page.evaluate(
      async ({ base, texts, cacheName }) => {
        const h = window.harness;
        await h.api.load(
          { kind: 'url', id: 'toy', baseUrl: base, origin: 'server' },
          { backend: 'wasm', dtype: 'fp32' },
          h.proxy(() => {}),
          h.proxy(() => {}),
        );
        const dropped = await (await caches.open(cacheName)).delete(`${base}onnx/text_model.onnx`);
        const emb = Array.from(await h.api.embedTexts(texts));
        const cachedAgain = (await (await caches.open(cacheName)).match(`${base}onnx/text_model.onnx`)) !== undefined;
        return { dropped, emb, tower: (await h.api.encodeCounts()).textTower, cachedAgain };
      },
      { base: `${app.url}/models/${MODEL}/`, texts: golden.texts.map((t) => t.text), cacheName: MODEL_CACHE_NAME },
    );
    expect(r.dropped).toBe(true);
    expect(r.tower?.loadedFrom).toEqual(['pieces']);
    expect(r.cachedAgain).toBe(true);
    expect(minCosine(r.emb)).toBeGreaterThanOrEqual(0.999);
    await page.close();
  });
});

describe('tiny-random-clip (plumbing) agrees with onnxruntime-node', () => {
  test('text and image embeddings, cosine ≥ 0.9999 against the native runtime on the same inputs', async () => {
    const ort = await import('onnxruntime-node');
    const { createClipTokenizer } = await import('../../src/core/tokenize');
    const { normalizeRows } = await import('../../src/core/vector');
    const dir = path.join(MODELS, 'tiny-random-clip');
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Record<string, unknown>;
    const { page } = await harness();
    const file = 'cifar10/dev/cat/' + fs.readdirSync(path.join(DATASETS, 'cifar10/dev/cat'))[0];
    const texts = ['a photo of a cat.', 'a diagram', 'two dogs playing in the snow'];
    const web = await page.evaluate(
      async ({ base, img, texts }) => {
        const h = window.harness;
        const info = await h.api.load(
          { kind: 'url', id: 'tiny', baseUrl: base, origin: 'server' },
          { backend: 'wasm', dtype: 'fp32' },
          h.proxy(() => {}),
          h.proxy(() => {}),
        );
        const blob = await h.fetchBlob(img);
        const px = await h.api.pixelValues({ name: 'x', blob }, 'pil');
        const emb = await h.api.embedImages([{ name: 'x', blob }], 'pil');
        return {
          dim: info.embeddingDim,
          text: Array.from(await h.api.embedTexts(texts)),
          px: Array.from(px),
          image: Array.from(emb.embeddings),
        };
      },
      { base: `${app.url}/models/tiny-random-clip/`, img: `${data.url}/${file}`, texts },
    );
    expect(web.dim).toBe(16);

    const tok = createClipTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
    const textSession = await ort.InferenceSession.create(path.join(dir, 'onnx/text_model.onnx'));
    const { ids, seqLen } = tok.encodeBatch(texts);
    const t = await textSession.run({ input_ids: new ort.Tensor('int64', ids, [texts.length, seqLen]) });
    const nativeText = normalizeRows(new Float32Array(t.text_embeds!.data as Float32Array), 16);
    texts.forEach((_, i) =>
      expect(cosine(web.text.slice(i * 16, (i + 1) * 16), nativeText.subarray(i * 16, (i + 1) * 16))).toBeGreaterThan(
        0.9999,
      ),
    );

    const visionSession = await ort.InferenceSession.create(path.join(dir, 'onnx/vision_model.onnx'));
    const v = await visionSession.run({
      pixel_values: new ort.Tensor('float32', Float32Array.from(web.px), [1, 3, 224, 224]),
    });
    const nativeImage = normalizeRows(new Float32Array(v.image_embeds!.data as Float32Array), 16);
    expect(cosine(web.image, nativeImage)).toBeGreaterThan(0.9999);
  });
});
