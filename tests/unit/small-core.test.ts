import { describe, expect, test } from 'vitest';
import { float32ToHalf, fromHalfBits, halfToFloat32, toHalfBits } from '../../src/core/float16';
import { parseModelConfig } from '../../src/core/model-config';
import { cosine, matmulT, normalizeRows, softmax } from '../../src/core/vector';
import { estimate, formatBytes, formatDuration } from '../../src/core/eta';
import { parseLabels, promptFor } from '../../src/core/prompts';
import { describeError, WorkbenchError } from '../../src/data/errors';
import { folderSource, hubSource, onnxPath } from '../../src/data/model-files';

describe('float16', () => {
  test('known bit patterns', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(1);
    expect(fromHalfBits(0x3555)).toBeCloseTo(0.33325, 5);
  });
  test('round trip within half precision (relative 2^-11)', () => {
    const x = Float32Array.from([0.1, -3.14159, 123.456, 1e-3]);
    const y = halfToFloat32(float32ToHalf(x));
    x.forEach((v, i) => expect(Math.abs((y[i]! - v) / v)).toBeLessThan(2 ** -11));
  });
});

describe('model config', () => {
  test('trained logit_scale wins; init value is never used', () => {
    expect(parseModelConfig({ logit_scale: 13.2, logit_scale_init_value: 2.6592 }).logitScale).toBe(13.2);
    const openai = parseModelConfig({ logit_scale_init_value: 2.6592, projection_dim: 512 });
    expect(openai.logitScale).toBe(100);
    expect(openai.logitScaleSource).toBe('openai-default-100');
    expect(openai.projectionDim).toBe(512);
    expect(parseModelConfig({ logit_scale_log: Math.log(50) }).logitScale).toBeCloseTo(50, 10);
  });
});

describe('vectors', () => {
  test('normalize, cosine, similarity matrix, softmax', () => {
    const m = normalizeRows(Float32Array.from([3, 4, 0, 0]), 2);
    expect(Array.from(m)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0]);
    expect(cosine([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Array.from(matmulT(Float32Array.from([1, 0]), Float32Array.from([1, 0, 0, 1]), 2))).toEqual([1, 0]);
    const p = softmax([0.3, 0.1], 100);
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-20)), 12);
    expect(p[0]! + p[1]!).toBeCloseTo(1, 12);
  });
});

describe('progress and prompts', () => {
  test('eta and formatting', () => {
    expect(estimate(50, 100, 10_000)).toEqual({ ratePerSec: 5, secondsLeft: 10 });
    expect(estimate(0, 100, 1000).secondsLeft).toBeNull();
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatBytes(1_400_000)).toBe('1.4 MB');
  });
  test('labels and templates', () => {
    expect(parseLabels(' cat, dog\nbird,, cat ')).toEqual(['cat', 'dog', 'bird']);
    expect(promptFor('a photo of a {}.', 'cat')).toBe('a photo of a cat.');
    expect(promptFor('itap of a', 'cat')).toBe('itap of a cat');
  });
});

describe('model sources and errors', () => {
  test('hub layout and dtype file names', () => {
    expect(hubSource('Xenova/clip-vit-base-patch32', 'http://127.0.0.1:9/')).toMatchObject({
      baseUrl: 'http://127.0.0.1:9/Xenova/clip-vit-base-patch32/resolve/main/',
    });
    expect(onnxPath('vision', 'fp16')).toBe('onnx/vision_model_fp16.onnx');
    expect(onnxPath('text', 'q8')).toBe('onnx/text_model_quantized.onnx');
  });
  test('a picked folder is re-rooted at its config.json', () => {
    const f = (p: string) => ({ path: p, file: new File(['x'], p.split('/').pop()!) });
    const s = folderSource([f('models/toy/config.json'), f('models/toy/onnx/text_model.onnx'), f('models/notes.txt')]);
    expect(s.kind === 'files' && Object.keys(s.files).sort()).toEqual(['config.json', 'onnx/text_model.onnx']);
    expect(s.id).toBe('toy');
  });
  test('error codes survive a message-only round trip', () => {
    const e = new WorkbenchError('model-file-missing', 'tokenizer.json is missing', 'tokenizer.json');
    const copy = Object.assign(new Error(e.message), { name: e.name });
    expect(describeError(copy)).toEqual({ code: 'model-file-missing', message: 'tokenizer.json is missing' });
  });
});
