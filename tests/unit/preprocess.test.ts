import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  centerCrop,
  levelTable,
  parsePreprocessConfig,
  preprocessRgb,
  resizeTarget,
  rgbaToRgb,
} from '../../src/core/preprocess';
import { MODELS } from '../helpers/paths';

const cfg = parsePreprocessConfig(
  JSON.parse(fs.readFileSync(path.join(MODELS, 'toy-clip-cifar10/preprocessor_config.json'), 'utf8')) as Record<
    string,
    unknown
  >,
);

describe('preprocessing config', () => {
  test('reads CLIP’s config', () => {
    expect(cfg.shortestEdgePx).toBe(224);
    expect(cfg.crop).toEqual({ width: 224, height: 224 });
    expect(cfg.doCenterCrop).toBe(true);
    expect(cfg.resample).toBe(3);
    expect(cfg.mean[0]).toBeCloseTo(0.48145466, 8);
  });

  test('shortest edge to 224, long side floored as Hugging Face does', () => {
    expect(resizeTarget(cfg, 640, 427)).toEqual({ width: 335, height: 224 }); // 224·640/427 = 335.7
    expect(resizeTarget(cfg, 427, 640)).toEqual({ width: 224, height: 335 });
    expect(resizeTarget(cfg, 32, 32)).toEqual({ width: 224, height: 224 });
  });

  test('a fixed {height, width} size resizes both sides', () => {
    const c = parsePreprocessConfig({ size: { height: 256, width: 256 }, do_center_crop: false });
    expect(resizeTarget(c, 640, 427)).toEqual({ width: 256, height: 256 });
  });
});

test('center crop floors the offsets and pads with zeros when the crop is larger', () => {
  const img = { data: Uint8Array.from({ length: 5 * 4 }, (_, i) => i), width: 5, height: 4, channels: 1 };
  expect(Array.from(centerCrop(img, 2, 2).data)).toEqual([6, 7, 11, 12]);
  const padded = centerCrop({ data: Uint8Array.of(9), width: 1, height: 1, channels: 1 }, 3, 3);
  expect(Array.from(padded.data)).toEqual([0, 0, 0, 0, 9, 0, 0, 0, 0]);
});

test('alpha is dropped, as PIL convert("RGB") does', () => {
  const rgb = rgbaToRgb(Uint8Array.of(1, 2, 3, 0, 4, 5, 6, 255), 2, 1);
  expect(Array.from(rgb.data)).toEqual([1, 2, 3, 4, 5, 6]);
});

test('normalization table equals HF float32 arithmetic: (x·(1/255) − mean)/std', () => {
  const lut = levelTable(cfg);
  expect(lut[0]).toBeCloseTo(-0.48145466 / 0.26862954, 5);
  expect(lut[255]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
  expect(lut[2 * 256 + 128]).toBeCloseTo((128 / 255 - 0.40821073) / 0.27577711, 5);
});

test('the whole pipeline writes a CHW tensor of the crop size', () => {
  const img = { data: new Uint8Array(300 * 200 * 3).fill(255), width: 300, height: 200, channels: 3 };
  const out = new Float32Array(3 * 224 * 224);
  preprocessRgb(img, cfg, out);
  expect(out[0]).toBeCloseTo((1 - 0.48145466) / 0.26862954, 5);
  expect(out[224 * 224]).toBeCloseTo((1 - 0.4578275) / 0.26130258, 5);
  expect(out[3 * 224 * 224 - 1]).toBeCloseTo((1 - 0.40821073) / 0.27577711, 5);
});

describe('RGBA in (a canvas’s pixels) gives what RGB in gives, the alpha dropped as PIL’s convert("RGB")', () => {
  const configs: [string, Record<string, unknown>][] = [
    ['CLIP: shortest edge, crop inside', { size: { shortest_edge: 24 }, crop_size: { height: 24, width: 24 } }],
    ['SigLIP: fixed size, no crop', { size: { height: 20, width: 20 }, do_center_crop: false, resample: 2 }],
    ['no resize (crop only)', { do_resize: false, crop_size: { height: 16, width: 16 } }],
    [
      'crop larger than the resize (zero padding)',
      { size: { shortest_edge: 12 }, crop_size: { height: 30, width: 30 } },
    ],
  ];
  test.each(configs)('%s', (_name, json) => {
    const c = parsePreprocessConfig(json);
    const [w, h] = [37, 29];
    const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 2654435761) >>> 24);
    const o = c.doCenterCrop ? c.crop : (c.resizeTo ?? { width: w, height: h });
    const a = new Float32Array(3 * o.width * o.height);
    const b = new Float32Array(a.length);
    preprocessRgb({ data: rgba, width: w, height: h, channels: 4 }, c, a);
    preprocessRgb(rgbaToRgb(rgba, w, h), c, b);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  test('other channel counts are refused', () => {
    const out = new Float32Array(3 * 224 * 224);
    expect(() => preprocessRgb({ data: new Uint8Array(4), width: 2, height: 2, channels: 1 }, cfg, out)).toThrow(
      RangeError,
    );
  });
});
