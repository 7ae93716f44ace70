/**
 * WebGPU sessions from split weights on onnxruntime-web's default bundle (JSEP), which browsers without
 * JSPI run (engine/ort-engine.ts `gpuBuild`); Chromium here has JSPI, so the app's own loads check the JSPI
 * build (engine-parity). A test-only worker makes the toy CLIP vision tower's session from the whole file and
 * from the file split as it is read, and runs both on one input on SwiftShader. Tolerance: outputs equal
 * within 1e-5 each (the same weights on the same kernels; only where they came from differs).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness } from '../helpers/browser';
import { startAppServer } from '../helpers/app-server';
import { weightsLocation } from '../../src/engine/ort-engine';

let browser: Browser;
let app: Awaited<ReturnType<typeof startAppServer>>;

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startAppServer()]);
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
});

interface Result {
  error?: string;
  moved: number;
  served: number;
  refused: boolean;
  fileBytes: number;
  graphBytes: number;
  whole: number[];
  pieces: number[];
}

test('the default bundle uploads each split weight from its own piece, with the whole file’s outputs', async () => {
  const { page, errors } = await openHarness(browser, app.url);
  const r = await page.evaluate(
    (req) =>
      new Promise<Result>((resolve) => {
        const w = new Worker('/tests/browser/jsep-split.worker.ts', { type: 'module' });
        w.onmessage = (e: MessageEvent<Result>) => resolve(e.data);
        w.onerror = (e) => resolve({ error: e.message } as Result);
        w.postMessage(req);
      }),
    {
      url: `${app.url}/models/toy-clip-cifar10/onnx/vision_model.onnx`,
      location: weightsLocation('onnx/vision_model.onnx'),
      dims: [1, 3, 224, 224],
    },
  );
  expect(r.error).toBeUndefined();
  expect(r.refused).toBe(false);
  expect(r.moved).toBeGreaterThan(10);
  // Nearly the whole file went over as pieces; the graph onnxruntime parsed is a small part of it.
  expect(r.served).toBeGreaterThan(0.9 * r.fileBytes);
  expect(r.graphBytes).toBeLessThan(0.1 * r.fileBytes);
  expect(r.pieces).toHaveLength(r.whole.length);
  const diff = Math.max(...r.whole.map((v, i) => Math.abs(v - r.pieces[i]!)));
  console.log(`default bundle on WebGPU: ${r.moved} weights as pieces, max |whole − pieces| ${diff}`);
  expect(diff).toBeLessThanOrEqual(1e-5);
  expect(errors).toEqual([]);
});
