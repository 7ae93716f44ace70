import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  computeMetrics,
  ensembleClassEmbeddings,
  perTemplateAccuracy,
  predict,
  topK,
  ECE_BINS,
} from '../../src/core/metrics';
import { classNamesFrom, readImageFolder } from '../../src/core/image-folder';
import { parseTemplates, promptGrid, TEMPLATE_PRESETS } from '../../src/core/templates';
import { csvField, predictionsCsv, resultsJson, type ClassifyRun } from '../../src/core/results';
import { MODELS } from '../helpers/paths';

describe('topK', () => {
  test('descending, ties to the lower index', () => {
    expect(topK([0.1, 0.5, 0.5, 0.2, 0.9], 3)).toEqual([4, 1, 2]);
    expect(topK([1, 1, 1], 2)).toEqual([0, 1]);
    expect(topK([3, 1, 2], 5)).toEqual([0, 2, 1]);
  });
});

describe('metrics on a hand-checked example', () => {
  // 3 classes, 6 images. Cosines chosen so predictions are [0,0,1,2,2,0] for labels [0,0,1,1,2,2].
  const labels = Int32Array.from([0, 0, 1, 1, 2, 2]);
  const sims = Float32Array.from(
    [
      [0.9, 0.1, 0.0],
      [0.5, 0.4, 0.1],
      [0.2, 0.7, 0.1],
      [0.1, 0.3, 0.6],
      [0.0, 0.1, 0.8],
      [0.6, 0.2, 0.3],
    ].flat(),
  );
  const pred = predict(sims, 3, 10);
  const m = computeMetrics(pred, labels, 3);

  test('top-1, balanced accuracy, per-class figures', () => {
    expect(m.acc1).toBeCloseTo(4 / 6, 12);
    expect(m.acc5).toBeNull(); // fewer than 5 classes
    // recalls: c0 2/2, c1 1/2, c2 1/2 → mean 2/3. precision: c0 2/3, c1 1/1, c2 1/2.
    expect(m.meanPerClassRecall).toBeCloseTo(2 / 3, 12);
    expect(m.perClass.map((c) => c.recall)).toEqual([1, 0.5, 0.5]);
    expect(m.perClass[0]!.precision).toBeCloseTo(2 / 3, 12);
    expect(m.perClass[1]!.precision).toBe(1);
    expect(m.perClass[2]!.f1).toBeCloseTo(0.5, 12);
    expect(m.perClass[0]!.f1).toBeCloseTo(0.8, 12);
    expect(Array.from(m.confusion)).toEqual([2, 0, 0, 0, 1, 1, 1, 0, 1]);
  });

  test('probabilities are softmax(scale × cosine) and sum to ≤ 1 over the top-k', () => {
    const e = [0.9, 0.1, 0].map((x) => Math.exp(10 * x));
    const z = e.reduce((a, b) => a + b);
    expect(pred.topkProb[0]).toBeCloseTo(e[0]! / z, 6);
    expect(pred.topkProb[1]! + pred.topkProb[2]! + pred.topkProb[0]!).toBeCloseTo(1, 6);
  });

  test('ECE equals Σ n_b/N · |acc_b − conf_b| over 15 bins', () => {
    let expected = 0;
    const bins = new Map<number, { n: number; acc: number; conf: number }>();
    for (let i = 0; i < 6; i++) {
      const conf = pred.topkProb[i * pred.k]!;
      const b = Math.ceil(conf * ECE_BINS) - 1;
      const bin = bins.get(b) ?? { n: 0, acc: 0, conf: 0 };
      bin.n += 1;
      bin.acc += pred.topk[i * pred.k] === labels[i] ? 1 : 0;
      bin.conf += conf;
      bins.set(b, bin);
    }
    for (const b of bins.values()) expected += (b.n / 6) * Math.abs(b.acc / b.n - b.conf / b.n);
    expect(m.ece).toBeCloseTo(expected, 6);
    expect(m.reliability).toHaveLength(15);
    expect(m.reliability.reduce((s, b) => s + b.count, 0)).toBe(6);
  });

  test('classes with no images do not count in mean per-class recall', () => {
    const m4 = computeMetrics(
      predict(
        sims.map((x) => x),
        3,
        10,
      ),
      labels,
      3,
    );
    const extended = computeMetrics(
      predict(Float32Array.from([...sims].flatMap((x, i) => (i % 3 === 2 ? [x, -1] : [x]))), 4, 10),
      labels,
      4,
    );
    expect(extended.meanPerClassRecall).toBeCloseTo(m4.meanPerClassRecall, 12);
  });
});

describe('ensemble and per-template accuracy', () => {
  test('mean of unit prompt embeddings, renormalised', () => {
    // 2 classes × 2 templates, dim 2.
    const prompts = Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]);
    const e = ensembleClassEmbeddings(prompts, 2, 2, 2);
    expect(e[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(e[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(e[2]).toBeCloseTo(-Math.SQRT1_2, 6);
  });
  test('each template scored alone', () => {
    // Template 0 separates the classes along x, template 1 is useless (same vector for both classes).
    const prompts = Float32Array.from([1, 0, 0, 1, -1, 0, 0, 1]);
    const images = Float32Array.from([0.9, 0.1, -0.8, 0.2]);
    const acc = perTemplateAccuracy(images, Int32Array.from([0, 1]), prompts, 2, 2, 2);
    expect(acc).toEqual([1, 0.5]);
  });
});

interface RefFile {
  classnames: string[];
  logit_scale: number;
  top1: number;
  top5: number;
  balanced_accuracy: number;
  per_class_accuracy: Record<string, number>;
  confusion_matrix: { matrix: number[][] };
  per_image: { file: string; label: number; pred: number; top5: number[]; cosine: number[] }[];
}

describe.each(['dev-single', 'dev-ensemble80'])(
  'metrics reproduce the PyTorch reference %s from its cosines',
  (name) => {
    const ref = JSON.parse(
      fs.readFileSync(path.join(MODELS, 'toy-clip-cifar10/reference', `${name}.json`), 'utf8'),
    ) as RefFile;
    const c = ref.classnames.length;
    const sims = Float32Array.from(ref.per_image.flatMap((r) => r.cosine));
    const labels = Int32Array.from(ref.per_image.map((r) => r.label));
    const pred = predict(sims, c, ref.logit_scale);
    const m = computeMetrics(pred, labels, c);

    test('acc1, acc5 and balanced accuracy within 1e-6', () => {
      expect(Math.abs(m.acc1 - ref.top1)).toBeLessThan(1e-6);
      expect(Math.abs(m.acc5! - ref.top5)).toBeLessThan(1e-6);
      expect(Math.abs(m.meanPerClassRecall - ref.balanced_accuracy)).toBeLessThan(1e-6);
      ref.classnames.forEach((cls, k) =>
        expect(Math.abs(m.perClass[k]!.recall - ref.per_class_accuracy[cls]!)).toBeLessThan(1e-6),
      );
    });
    test('confusion matrix and every top-5 list are identical', () => {
      const matrix = ref.confusion_matrix.matrix.flat();
      expect(Array.from(m.confusion)).toEqual(matrix);
      ref.per_image.forEach((r, i) => {
        expect(Array.from(pred.topk.subarray(i * 5, i * 5 + 5))).toEqual(r.top5);
      });
    });
  },
);

describe('ImageFolder layout', () => {
  const entries = [
    'dev/cat/001.jpg',
    'dev/cat/nested/002.png',
    'dev/Dog/003.webp',
    'dev/dog/004.JPG',
    'dev/dog/notes.txt',
    'dev/classes.json',
    'dev/stray.jpg',
    'dev/templates.txt',
  ].map((p) => ({ path: p }));
  const layout = readImageFolder(entries);

  test('strips the picked folder, sorts classes by code point, keeps nested images', () => {
    expect(layout.root).toBe('dev');
    expect(layout.classes).toEqual(['Dog', 'cat', 'dog']);
    expect(layout.images.map((i) => [i.path, i.label])).toEqual([
      ['Dog/003.webp', 0],
      ['cat/001.jpg', 1],
      ['cat/nested/002.png', 1],
      ['dog/004.JPG', 2],
    ]);
    expect(layout.classesJson).toBe(5);
    expect(layout.templatesTxt).toBe(7);
  });
  test('lists what it skips, with a reason', () => {
    expect(layout.skipped).toEqual([
      { file: 'dog/notes.txt', reason: 'not an image' },
      { file: 'stray.jpg', reason: 'not inside a class folder' },
    ]);
  });
  test('class folders dropped directly (no common root) work too', () => {
    const l = readImageFolder([{ path: 'a/1.jpg' }, { path: 'b/2.jpg' }]);
    expect(l.root).toBe('');
    expect(l.classes).toEqual(['a', 'b']);
  });
});

describe('class names', () => {
  const classes = ['Egyptian_Mau', 'missile_a', 'missile_b'];
  test('defaults replace underscores', () => {
    expect(classNamesFrom(classes, null).names).toEqual(['Egyptian Mau', 'missile a', 'missile b']);
  });
  test('classes.json as a list; two folders may share a name', () => {
    const text = JSON.stringify([
      { folder: 'missile_a', clip_name: 'missile' },
      { folder: 'missile_b', clip_name: 'missile' },
    ]);
    const r = classNamesFrom(classes, { name: 'classes.json', text });
    expect(r.names).toEqual(['Egyptian Mau', 'missile', 'missile']);
    expect(r.unmatched).toEqual(['Egyptian_Mau']);
  });
  test('classes.json as an object, classnames.txt by sorted order', () => {
    expect(
      classNamesFrom(classes, { name: 'classes.json', text: '{"Egyptian_Mau":"Egyptian Mau cat"}' }).names[0],
    ).toBe('Egyptian Mau cat');
    expect(classNamesFrom(classes, { name: 'classnames.txt', text: 'mau\nrocket\nmissile\n' }).names).toEqual([
      'mau',
      'rocket',
      'missile',
    ]);
  });
  test('bad files give a message naming the file and the problem', () => {
    expect(() => classNamesFrom(classes, { name: 'classnames.txt', text: 'a\nb' })).toThrow(
      /classnames\.txt has 2 names but the folder has 3 class folders/,
    );
    expect(() => classNamesFrom(classes, { name: 'classes.json', text: '{oops' })).toThrow(
      /classes\.json is not valid JSON/,
    );
    expect(() => classNamesFrom(classes, { name: 'classes.json', text: '[{"folder":1}]' })).toThrow(
      /classes\.json, item 1/,
    );
  });
});

describe('templates', () => {
  test('presets are the 80, the 7 and the single template', () => {
    expect(TEMPLATE_PRESETS.openai80.templates).toHaveLength(80);
    expect(TEMPLATE_PRESETS.openai7.templates).toHaveLength(7);
    expect(TEMPLATE_PRESETS.simple.templates).toEqual(['a photo of a {}.']);
  });
  test('CLIP_benchmark templates.txt with {c}; comments and duplicates dropped', () => {
    expect(parseTemplates('# mine\na photo of a {c}.\n\na photo of a {c}.\nart of the {}.\n')).toEqual([
      'a photo of a {}.',
      'art of the {}.',
    ]);
    expect(() => parseTemplates('a photo\n', 'templates.txt')).toThrow(/templates\.txt, line 1: “a photo” has no \{\}/);
  });
  test('prompt grid is class-major', () => {
    expect(promptGrid(['cat', 'dog'], ['a {}.', 'the {}!'])).toEqual(['a cat.', 'the cat!', 'a dog.', 'the dog!']);
  });
});

describe('exports', () => {
  const pred = predict(Float32Array.from([0.9, 0.1, 0.2, 0.8]), 2, 100);
  const labels = Int32Array.from([0, 0]);
  const run: ClassifyRun = {
    manifest: {
      app_version: '0.1.0',
      date: '2026-01-01T00:00:00.000Z',
      model: {
        id: 'm',
        origin: 'folder',
        files: { 'a.onnx': 'ab' },
        logit_scale: 100,
        logit_scale_source: 'default',
        embedding_dim: 2,
      },
      backend: 'wasm',
      dtype: 'fp32',
      preprocessing: {},
      templates: { name: 'simple', count: 1, list: ['a photo of a {}.'] },
    },
    classes: ['cat', 'dog, big'],
    classNames: ['cat', 'big dog'],
    totalImages: 3,
    failed: [{ file: 'cat/x.jpg', reason: 'could not decode' }],
    notes: [],
    skipped: [],
    files: ['cat/1.jpg', 'cat/"2".jpg'],
    labels,
    metrics: computeMetrics(pred, labels, 2),
    predictions: pred,
    perTemplate: null,
    perTemplateImages: 0,
    timing: {
      model_load_ms: 1,
      total_ms: 1300,
      embed_images_ms: 1000,
      embed_texts_ms: 1,
      hash_ms: 5,
      index_ms: 5,
      cache_read_ms: 0,
      score_ms: 1,
    },
    // One image came from the cache, two were encoded (so 2 per second of encoding).
    cache: { enabled: true, image_hits: 1, image_misses: 2, text_hits: 0, text_misses: 4 },
    cacheWarning: null,
  };
  test('results JSON has the bench keys', () => {
    const j = resultsJson(run) as {
      metrics: Record<string, unknown>;
      dataset: Record<string, unknown>;
      predictions: { label: string; pred: string; top5: [string, number][] }[];
      timing: { images_per_sec: number; cache_reads_per_sec: number | null };
      cache: Record<string, unknown>;
    };
    expect(j.metrics.acc1).toBe(0.5);
    expect(j.metrics.acc5).toBeNull();
    expect(j.dataset.images).toBe(3);
    expect(j.dataset.class_names).toEqual({ cat: 'cat', 'dog, big': 'big dog' });
    expect(j.predictions[1]).toMatchObject({ label: 'cat', pred: 'dog, big' });
    expect(j.predictions[1]!.top5[0]![0]).toBe('dog, big');
    expect(j.timing.images_per_sec).toBe(2);
    expect(j.timing.cache_reads_per_sec).toBeNull(); // no read time measured
    expect(j.cache).toMatchObject({ image_hits: 1, image_misses: 2, text_hits: 0, text_misses: 4 });
  });
  test('CSV quotes fields with commas and quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    const lines = predictionsCsv(run).trim().split('\r\n');
    expect(lines[0]).toBe('file,label,pred,correct,top1,p1,top2,p2');
    expect(lines[2]).toMatch(/^"cat\/""2"".jpg",cat,"dog, big",0,/);
  });
});
