/**
 * The outputs a graph declares, read from the file without a session (src/core/onnx-outputs.ts), and
 * the text tower's embedding size taken from them at a WASM load (src/engine/tower-files.ts). The
 * expected names and shapes are those onnxruntime-node reports for the same files.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { graphOutputs } from '../../src/core/onnx-outputs';
import { declaredTextDim } from '../../src/engine/tower-files';
import { hideOutputSizes } from '../helpers/model-fixtures';
import { MODELS, REPO } from '../helpers/paths';

const read = (f: string) => new Uint8Array(fs.readFileSync(f));
const FILES = [
  path.join(MODELS, 'tiny-random-clip/onnx/text_model.onnx'),
  path.join(MODELS, 'tiny-random-clip/onnx/vision_model.onnx'),
  path.join(MODELS, 'toy-siglip-cifar10/onnx/text_model.onnx'),
  path.join(REPO, 'tests/fixtures/models/tiny-siglip2-external/onnx/vision_model.onnx'),
];

describe('graphOutputs', () => {
  for (const file of FILES) {
    test(`${path.relative(path.dirname(path.dirname(path.dirname(file))), file)}: the names and shapes onnxruntime reports`, async () => {
      const bytes = read(file);
      const session = await ort.InferenceSession.create(file);
      const expected = session.outputMetadata.map((m) => ({
        name: m.name,
        dims: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d < 0 ? null : d)) : null,
      }));
      await session.release();
      expect(graphOutputs(bytes)).toEqual(expected);
    });
  }

  test('the sizes named outright', () => {
    const outs = graphOutputs(read(path.join(MODELS, 'tiny-random-clip/onnx/text_model.onnx')));
    expect(outs).toEqual([
      { name: 'text_embeds', dims: ['batch_size', 16] },
      { name: 'last_hidden_state', dims: ['batch_size', 'sequence_length', 32] },
    ]);
  });

  test('bytes that are not a model, a truncated model and a model without outputs are refused', () => {
    const model = read(path.join(MODELS, 'tiny-random-clip/onnx/text_model.onnx'));
    expect(() => graphOutputs(new TextEncoder().encode('this is not an onnx file'))).toThrow();
    expect(() => graphOutputs(model.subarray(0, model.byteLength - 1000))).toThrow(/past its message/);
    expect(() => graphOutputs(Uint8Array.from([0x08, 0x07]))).toThrow(/no graph/); // ir_version only
    expect(() => graphOutputs(Uint8Array.from([0x3a, 0x00]))).toThrow(/no outputs/); // an empty graph
  });
});

describe('declaredTextDim', () => {
  const file = 'onnx/text_model.onnx';
  const clip = read(path.join(MODELS, 'tiny-random-clip/onnx/text_model.onnx'));
  const siglip = read(path.join(MODELS, 'toy-siglip-cifar10/onnx/text_model.onnx'));

  test("the last dimension of the family's output", () => {
    expect(declaredTextDim(clip, ['text_embeds'], file)).toBe(16);
    expect(declaredTextDim(siglip, ['pooler_output', 'text_embeds'], file)).toBe(64);
  });

  test('null when the file names the size only symbolically (the load then runs the tower once)', () => {
    const hidden = hideOutputSizes(clip);
    expect(graphOutputs(hidden)[0]).toEqual({ name: 'text_embeds', dims: ['d0', 'd1'] });
    expect(declaredTextDim(hidden, ['text_embeds'], file)).toBeNull();
  });

  test('a file that is not a model, or lacks the output, is refused naming the file', () => {
    expect(() => declaredTextDim(new TextEncoder().encode('not a model'), ['text_embeds'], file)).toThrow(
      /onnx\/text_model\.onnx could not be read as an ONNX model/,
    );
    expect(() => declaredTextDim(siglip, ['text_embeds'], file)).toThrow(
      /onnx\/text_model\.onnx has no text_embeds output \(it has: last_hidden_state, pooler_output\)/,
    );
  });
});
