/**
 * Auto's timing of one backend (src/engine/backend-choice.ts `timeBackend`, in its trial worker), driven
 * directly in Chromium with tiny-random-clip and no time limits: WebGPU (SwiftShader here) is timed at each
 * batch size of WEBGPU_BATCHES and its figure is the faster per image; WASM at its one size. With a limit
 * the first size cannot meet, the trial reports when it stopped. On a software adapter (SwiftShader is one)
 * WebGPU's cold step is one image, before any size: a cold limit it cannot meet ends the trial there. The
 * figures themselves are SwiftShader's and say nothing about a GPU; what is checked is what the trial
 * reports and how it chooses. Last, the whole choice (`chooseBackend`) on a probe that states a GPU adapter:
 * there WASM is timed in trial workers, one at a time, and the worker choosing never starts its WASM runtime.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from '../helpers/browser';
import { startAppServer } from '../helpers/app-server';
import type { BackendTiming, TrialLimits } from '../../src/engine/backend-choice';
import type { ChooseReply } from './choose-backend.worker';
import { urlSource } from '../../src/data/model-files';

let browser: Browser;
let app: Awaited<ReturnType<typeof startAppServer>>;
let page: Page;
let errors: string[];

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startAppServer()]);
  ({ page, errors } = await openHarness(browser, app.url));
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
});

const MODEL = () => `${app.url}/models/tiny-random-clip/`;

function time(backend: 'webgpu' | 'wasm', limits: TrialLimits): Promise<BackendTiming> {
  // The trial worker opens the file itself, split as it is read (as the app's trials do).
  const tower = { source: urlSource(MODEL(), 'server', 'tiny-random-clip'), path: 'onnx/vision_model.onnx' };
  return page.evaluate(
    async ({ tower, backend, limits }) =>
      window.harness.trialWorker().time(tower, backend, { width: 224, height: 224 }, limits),
    { tower, backend, limits },
  );
}

const NO_LIMIT: TrialLimits = { coldMs: Infinity, warmMsPerImage: Infinity };

test('WebGPU is timed at 16 and 8 images per batch, and its figure is the faster per image', async () => {
  const t = await time('webgpu', NO_LIMIT);
  console.log(`tiny-random-clip, WebGPU (SwiftShader), ms per warm batch: ${JSON.stringify(t.batches)}`);
  expect(t.timedOutAfterMs).toBeUndefined();
  expect(t.coldMs).toBeGreaterThan(0);
  // SwiftShader is a software adapter: the cold figure is the one-image step's.
  expect(t.coldBatch).toBe(1);
  expect(t.batches!.map((b) => b.batch)).toEqual([16, 8]);
  for (const b of t.batches!) expect(b.warmMs).toBeGreaterThan(0);
  const perImage = t.batches!.map((b) => b.warmMs! / b.batch);
  const best = t.batches![perImage.indexOf(Math.min(...perImage))]!;
  expect(t).toMatchObject({ batch: best.batch, warmMs: best.warmMs });
  expect(t.imagesPerSec).toBeCloseTo((best.batch * 1000) / best.warmMs!, 6);
  expect(errors).toEqual([]);
});

test('WASM is timed at its one size; a warm batch past its limit ends the trial, saying when', async () => {
  const wasm = await time('wasm', NO_LIMIT);
  // The trial worker opened the file itself, split as it was read: no worker held it whole.
  expect(wasm).toMatchObject({ batch: 8, readAs: 'pieces' });
  expect(wasm.coldBatch).toBeUndefined();
  expect(wasm.batches).toBeUndefined();
  expect(wasm.imagesPerSec).toBeGreaterThan(0);

  // On a software adapter the one image's warm run is the first warm batch: past its limit, no batch of 16 is
  // queued.
  const lost = await time('webgpu', { coldMs: Infinity, warmMsPerImage: 1e-3 });
  expect(lost).toMatchObject({ batch: 1, coldBatch: 1, imagesPerSec: 0, warmMs: null, readAs: 'pieces' });
  expect(lost.timedOutAfterMs).toBeGreaterThanOrEqual(lost.coldMs);
  expect(errors).toEqual([]);
});

test('one image first on a software adapter: a cold limit it cannot meet ends the trial there', async () => {
  const lost = await time('webgpu', { coldMs: 1, warmMsPerImage: Infinity });
  expect(lost).toMatchObject({ batch: 1, coldBatch: 1, warmMs: null, imagesPerSec: 0 });
  expect(lost.batches).toBeUndefined();
  expect(lost.timedOutAfterMs).toBeGreaterThanOrEqual(1);
  expect(lost.coldMs).toBe(lost.timedOutAfterMs);
  expect(errors).toEqual([]);
});

test('an error in a trial worker keeps its code and file across the boundary', async () => {
  // On a GPU adapter WASM is timed in a trial worker, so a file the runtime cannot read fails there.
  const e = await page.evaluate(async () => {
    const trial = window.harness.trialWorker();
    const path = 'onnx/vision_model.onnx';
    const file = new File([new Uint8Array([8, 7, 6, 5, 4, 3, 2, 1])], 'vision_model.onnx');
    const source = { kind: 'files' as const, id: 'not-onnx', files: { [path]: file }, origin: 'folder' as const };
    const noLimit = { coldMs: Infinity, warmMsPerImage: Infinity };
    try {
      await trial.time({ source, path }, 'wasm', { width: 224, height: 224 }, noLimit);
      return null;
    } catch (err) {
      const x = err as Error & { code?: string; file?: string };
      return { name: x.name, code: x.code, file: x.file };
    }
  });
  expect(e).toEqual({ name: 'WorkbenchError', code: 'model-file-corrupt', file: 'onnx/vision_model.onnx' });
  expect(errors).toEqual([]);
});

test('on a GPU adapter no trial starts the model worker’s WASM runtime; trial workers run one at a time', async () => {
  const r = await page.evaluate(
    (url) =>
      new Promise<ChooseReply>((resolve) => {
        const w = new Worker(new URL('/tests/browser/choose-backend.worker.ts', location.href), { type: 'module' });
        w.onmessage = (e: MessageEvent<ChooseReply>) => {
          w.terminate();
          resolve(e.data);
        };
        w.postMessage({ url });
      }),
    MODEL(),
  );
  expect(r.error).toBeUndefined();
  const d = r.decision;
  expect(d).toMatchObject({ how: 'measured', fallbackAdapter: false });
  // The worker's runtime never ran: a WASM heap grown for a trial would stay beside the GPU sessions.
  expect(r.threadsInUse).toBeNull();
  const wasm = d.timings.wasm!;
  expect(wasm.imagesPerSec).toBeGreaterThan(0);
  expect(wasm.readAs).toBe('pieces');
  expect(d.timings.webgpu).not.toBeNull();
  // WASM at the default count, then WebGPU; the other count (half as many threads) only when WASM won.
  const otherCount = r.isolated && r.startThreads > 1 && d.backend === 'wasm';
  expect(r.trials.length).toBe(otherCount ? 3 : 2);
  expect(wasm.threadsTimed).toEqual(otherCount ? [r.startThreads, Math.floor(r.startThreads / 2)] : [r.startThreads]);
  expect(r.trials.every((t) => t.closed)).toBe(true);
  expect(r.mostAtOnce).toBe(1);
  // The runtime, when a session starts it, starts at the faster count timed: no count waits for a reload.
  expect(d.wasmThreads).toBe(wasm.threads);
  expect(r.probeThreads).toBe(wasm.threads);
  console.log(
    `stated GPU: ${d.backend} chosen; WASM ${wasm.imagesPerSec.toFixed(1)} images/s at ${wasm.threads} thread(s), ` +
      `WebGPU ${d.timings.webgpu!.imagesPerSec.toFixed(1)}; ${r.trials.length} trial workers`,
  );
  expect(errors).toEqual([]);
});
