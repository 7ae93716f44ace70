/**
 * The model-family table: detection from the shared fixtures' own files, SigLIP tokenization against the
 * PyTorch reference's ids (golden.json, exact), scoring scalars and where they come from, and the
 * preprocessing each fixture's config asks for.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  FAMILIES,
  canonicalizeSiglip,
  describeScoring,
  detectFamily,
  hasProbabilities,
  resolveScoring,
  withUserScalars,
} from '../../src/core/model-family';
import { createClipTokenizer } from '../../src/core/tokenize';
import { parsePreprocessConfig, outputSize, resizeTarget } from '../../src/core/preprocess';
import { MODELS, REPO } from '../helpers/paths';

type Json = Record<string, unknown>;
const read = (model: string, file: string): Json =>
  JSON.parse(fs.readFileSync(path.join(MODELS, model, file), 'utf8')) as Json;
const maybe = (model: string, file: string): Json =>
  fs.existsSync(path.join(MODELS, model, file)) ? read(model, file) : {};

function evidence(model: string) {
  return {
    config: read(model, 'config.json'),
    preprocessor: read(model, 'preprocessor_config.json'),
    tokenizerConfig: maybe(model, 'tokenizer_config.json'),
    modelId: model,
  };
}

describe('detection', () => {
  test('each shared fixture gets its family', () => {
    expect(detectFamily(evidence('toy-clip-cifar10')).rules.id).toBe('clip');
    expect(detectFamily(evidence('tiny-random-clip')).rules.id).toBe('clip');
    expect(detectFamily(evidence('toy-siglip-cifar10')).rules.id).toBe('siglip');
    // 26-byte config.json {"model_type": "clip"} + do_normalize false: MobileCLIP's export conventions.
    const mc = detectFamily({ ...evidence('toy-mobileclip-layout'), modelId: 'some-folder' });
    expect(mc.rules.id).toBe('mobileclip');
    expect(mc.flagged).toBe(false);
  });

  test('SigLIP 2 by model_type, by a Gemma tokenizer, or by id; unknown types flagged with CLIP rules', () => {
    const base = { preprocessor: {}, tokenizerConfig: {}, modelId: 'x' };
    expect(detectFamily({ ...base, config: { model_type: 'siglip2' } }).rules.id).toBe('siglip2');
    expect(
      detectFamily({
        ...base,
        config: { model_type: 'siglip' },
        tokenizerConfig: { tokenizer_class: 'GemmaTokenizer' },
      }).rules.id,
    ).toBe('siglip2');
    expect(
      detectFamily({
        ...base,
        config: { model_type: 'siglip' },
        modelId: 'onnx-community/siglip2-base-patch16-224-ONNX',
      }).rules.id,
    ).toBe('siglip2');
    expect(detectFamily({ ...base, config: { model_type: 'jina_clip' } }).rules.id).toBe('jina-clip');
    expect(detectFamily({ ...base, config: { model_type: 'clip' }, modelId: 'Xenova/mobileclip_s0' }).rules.id).toBe(
      'mobileclip',
    );
    const odd = detectFamily({ ...base, config: { model_type: 'chinese_clip' } });
    expect(odd.rules.id).toBe('unknown');
    expect(odd.flagged).toBe(true);
    expect(odd.rules.tokenization).toBe(FAMILIES.clip.tokenization);
    expect(odd.reason).toContain('chinese_clip');
  });
});

describe('SigLIP tokenization (toy-siglip-cifar10 golden.json, exact ids)', () => {
  const golden = read('toy-siglip-cifar10', 'reference/golden.json') as {
    texts: { text: string; input_ids: number[]; input_ids_unpadded: number[] }[];
  };
  const tok = createClipTokenizer(
    read('toy-siglip-cifar10', 'tokenizer.json'),
    read('toy-siglip-cifar10', 'tokenizer_config.json'),
    64,
    FAMILIES.siglip.tokenization,
  );

  test('every golden text, the mixed-case punctuated probe included, padded with </s> to exactly 64', () => {
    expect(golden.texts.map((t) => t.text)).toContain('A Photo of a CAT!');
    for (const t of golden.texts) {
      expect(tok.encode(t.text)).toEqual(t.input_ids_unpadded);
      const { ids, seqLen } = tok.encodeBatch([t.text]);
      expect(seqLen).toBe(64);
      expect(Array.from(ids, Number)).toEqual(t.input_ids);
    }
  });

  test('a batch pads every row to 64, whatever its longest row; long texts keep </s> last', () => {
    const { ids, seqLen } = tok.encodeBatch(['a cat', 'a photo of a small red truck on a road']);
    expect(seqLen).toBe(64);
    expect(ids.length).toBe(128);
    const long = tok.encode('cat '.repeat(100));
    expect(long.length).toBe(64);
    expect(long[63]).toBe(1);
  });

  test('canonicalize_text: punctuation removed, whitespace collapsed, lower-cased when asked', () => {
    expect(canonicalizeSiglip('  A   Photo, of a "CAT"!  ', true)).toBe('a photo of a cat');
    expect(canonicalizeSiglip('Dog-like {thing}', false)).toBe('Doglike thing');
  });
});

describe('SigLIP 2 tokenization (fixture made by scripts/fixtures/make-family-fixtures.mjs)', () => {
  const dir = path.join(REPO, 'tests/fixtures/models/tiny-siglip2-gemma');
  const json = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Json;
  const golden = json('reference/golden.json') as unknown as {
    texts: { text: string; input_ids: number[]; input_ids_unpadded: number[] }[];
  };

  test('Gemma-style BPE: <bos> first, no end token, padded with <pad> (0) to 64', () => {
    const ev = { config: json('config.json'), preprocessor: json('preprocessor_config.json'), modelId: 'local' };
    const family = detectFamily({ ...ev, tokenizerConfig: json('tokenizer_config.json') });
    expect(family.rules.id).toBe('siglip2');
    // tokenizer_config's model_max_length is Gemma's "unbounded" 1e30: the text config's 64 applies.
    const tok = createClipTokenizer(
      json('tokenizer.json'),
      json('tokenizer_config.json'),
      64,
      family.rules.tokenization,
    );
    expect(tok.padding).toEqual({ padId: 0, fixedLength: 64 });
    for (const t of golden.texts) {
      expect(tok.encode(t.text)).toEqual(t.input_ids_unpadded);
      expect(Array.from(tok.encodeBatch([t.text]).ids, Number)).toEqual(t.input_ids);
    }
  });
});

describe('scoring', () => {
  test('CLIP: softmax, config scale, else 100 labelled as the family default', () => {
    const s = resolveScoring(FAMILIES.clip, { logit_scale: 13.2 }, 'x');
    expect([s.kind, s.scale, s.scaleSource]).toEqual(['softmax', 13.2, 'config.logit_scale']);
    const d = resolveScoring(FAMILIES.mobileclip, { model_type: 'clip' }, 'x');
    expect([d.scale, d.scaleSource]).toEqual([100, 'family-default']);
    expect(hasProbabilities(d)).toBe(true);
  });

  test('SigLIP: sigmoid; no scalars in config → unknown until entered, then labelled as entered', () => {
    const cfg = read('toy-siglip-cifar10', 'config.json');
    const s = resolveScoring(FAMILIES.siglip, cfg, 'toy-siglip-cifar10');
    expect([s.kind, s.scale, s.bias, s.scaleSource, s.biasSource]).toEqual(['sigmoid', null, null, 'none', 'none']);
    expect(hasProbabilities(s)).toBe(false);
    const u = withUserScalars(s, { scale: 8.41668, bias: -4.560376 });
    expect([u.scale, u.bias, u.scaleSource, u.biasSource]).toEqual([8.41668, -4.560376, 'user', 'user']);
    expect(hasProbabilities(u)).toBe(true);
    expect(describeScoring(u)).toBe(
      'sigmoid(8.42 · cos − 4.56) per label; scale: entered by you, bias: entered by you',
    );
    const c = resolveScoring(FAMILIES.siglip, { logit_scale: 10, logit_bias: -3 }, 'x');
    expect([c.scale, c.bias, c.scaleSource, c.biasSource]).toEqual([10, -3, 'config.logit_scale', 'config.logit_bias']);
  });

  test('the known-model table is used only for its ids, with its citation', () => {
    const k = resolveScoring(FAMILIES.siglip, {}, 'google/siglip-so400m-patch14-384');
    expect(k.scale).toBeCloseTo(Math.exp(4.7215), 10);
    expect(k.scaleSource).toBe('known-model-table');
    expect(k.citation).toContain('open_clip');
    expect(k.bias).toBeNull();
  });
});

describe('preprocessing each fixture asks for', () => {
  test('SigLIP: squash to 224×224, no crop, bicubic, mean = std = 0.5', () => {
    const p = parsePreprocessConfig(read('toy-siglip-cifar10', 'preprocessor_config.json'));
    expect([p.doCenterCrop, p.resample, p.doNormalize, p.mean]).toEqual([false, 3, true, [0.5, 0.5, 0.5]]);
    expect(resizeTarget(p, 640, 480)).toEqual({ width: 224, height: 224 });
    expect(outputSize(p)).toEqual({ width: 224, height: 224 });
  });

  test('MobileCLIP layout: bilinear shortest edge + crop, no normalisation', () => {
    const p = parsePreprocessConfig(read('toy-mobileclip-layout', 'preprocessor_config.json'));
    expect([p.doCenterCrop, p.resample, p.doNormalize]).toEqual([true, 2, false]);
    expect(resizeTarget(p, 640, 480)).toEqual({ width: 298, height: 224 });
  });
});
