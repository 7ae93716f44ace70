/**
 * Weights rewritten as external data into the model file itself (src/core/onnx-external.ts): the graph
 * shrinks to its structure, and onnxruntime loads the same weights from the original file, bit for bit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { externalizeWeights } from '../../src/core/onnx-external';
import { REPO } from '../helpers/paths';

const FIXTURES = path.join(REPO, 'tests/fixtures/models');
const model = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'tiny-siglip2-gemma/onnx/vision_model.onnx')));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-external-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** pooler_output of a session on a fixed 1×3×32×32 input. */
async function embed(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const px = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i));
  const out = await s.run({ pixel_values: new ort.Tensor('float32', px, [1, 3, 32, 32]) });
  await s.release();
  return out.pooler_output!.data as Float32Array;
}

describe('externalizeWeights', () => {
  test('the rewritten graph loads with the model file as its weights and gives identical outputs', async () => {
    const graph = externalizeWeights(model, 'vision_model.onnx.weights');
    expect(graph).not.toBeNull();
    // The weights left the graph: what remains is its structure and the small initializers.
    expect(graph!.byteLength).toBeLessThan(model.byteLength / 2);
    fs.writeFileSync(path.join(dir, 'graph.onnx'), graph!);
    fs.writeFileSync(path.join(dir, 'vision_model.onnx.weights'), model);
    fs.writeFileSync(path.join(dir, 'original.onnx'), model);
    const [a, b] = [await embed(path.join(dir, 'original.onnx')), await embed(path.join(dir, 'graph.onnx'))];
    expect(a.length).toBeGreaterThan(0);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  test('a model whose weights are already external, or bytes that are not a model, are left alone', () => {
    const ext = new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'tiny-siglip2-external/onnx/vision_model.onnx')));
    expect(externalizeWeights(ext, 'x.weights')).toBeNull();
    expect(externalizeWeights(new TextEncoder().encode('not a model at all'), 'x.weights')).toBeNull();
    expect(externalizeWeights(model.subarray(0, model.byteLength - 7), 'x.weights')).toBeNull();
  });
});
