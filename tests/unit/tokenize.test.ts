import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { createClipTokenizer } from '../../src/core/tokenize';
import { MODELS } from '../helpers/paths';

function load(model: string) {
  const read = (f: string) =>
    JSON.parse(fs.readFileSync(path.join(MODELS, model, f), 'utf8')) as Record<string, unknown>;
  return createClipTokenizer(read('tokenizer.json'), read('tokenizer_config.json'), 77);
}

describe('CLIP tokenizer glue', () => {
  const tok = load('toy-clip-cifar10');

  test('golden: "a photo of a cat"', () => {
    expect(tok.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });

  test('the tokenizer’s own normalization lowercases and splits punctuation, as in golden.json', () => {
    const golden = JSON.parse(fs.readFileSync(path.join(MODELS, 'toy-clip-cifar10/reference/golden.json'), 'utf8')) as {
      texts: { text: string; input_ids: number[] }[];
    };
    for (const t of golden.texts) expect(tok.encode(t.text)).toEqual(t.input_ids);
    expect(tok.encode('A PHOTO of a Cat.')).toEqual(golden.texts[0]!.input_ids);
  });

  test('truncates to the context length and keeps the end token last', () => {
    const ids = tok.encode('cat '.repeat(200));
    expect(ids).toHaveLength(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(ids[75]).toBe(2368);
  });

  test('pads a batch to its longest row with the pad token (49407 for CLIP)', () => {
    const { ids, seqLen, lengths } = tok.encodeBatch(['a cat', 'a photo of a dog']);
    expect(tok.padding).toEqual({ padId: 49407, fixedLength: null });
    expect(lengths).toEqual([4, 7]);
    expect(seqLen).toBe(7);
    expect(Array.from(ids.subarray(0, 7), Number)).toEqual([49406, 320, 2368, 49407, 49407, 49407, 49407]);
  });

  test('a fixed padding length in tokenizer.json (SigLIP style) is honoured', () => {
    const read = (f: string) =>
      JSON.parse(fs.readFileSync(path.join(MODELS, 'toy-clip-cifar10', f), 'utf8')) as Record<string, unknown>;
    const json = { ...read('tokenizer.json'), padding: { strategy: { Fixed: 16 }, pad_id: 0 } };
    const t = createClipTokenizer(json, read('tokenizer_config.json'));
    const { ids, seqLen } = t.encodeBatch(['a cat']);
    expect(seqLen).toBe(16);
    expect(Number(ids[15])).toBe(0);
  });
});
