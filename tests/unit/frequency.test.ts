/**
 * Concept-frequency analysis: the log-linear fit reproduces the toy skewed model's PyTorch reference
 * (slope and Pearson r to 1e-9 from the same per-class accuracies), the p-value and band use the
 * t distribution, the binned view, concept matching, and exact counting on a generated corpus.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  ConceptCounter,
  conceptKey,
  fitAt,
  fitLogLinear,
  lemma,
  logBins,
  matchConcepts,
  parseCountTable,
} from '../../src/core/frequency';
import { MODELS } from '../helpers/paths';
import { captions, CORPUS_CONCEPTS } from '../helpers/corpus';

const SKEWED = path.join(MODELS, 'toy-clip-cifar10-skewed');

describe('log-linear fit', () => {
  const ref = JSON.parse(fs.readFileSync(path.join(SKEWED, 'reference/frequency-analysis-dev.json'), 'utf8')) as Record<
    string,
    {
      per_class_accuracy: Record<string, number>;
      pearson_r_acc_vs_log10_freq: number;
      slope_acc_per_decade: number;
      intercept: number;
    }
  > & { concept_frequency: Record<string, number> };

  for (const mode of ['dev/single', 'dev/ensemble80', 'dev/eval60']) {
    test(`reproduces the reference's slope, intercept and r (${mode})`, () => {
      const r = ref[mode]!;
      const pts = Object.entries(r.per_class_accuracy).map(([c, acc]) => ({
        accuracy: acc,
        count: ref.concept_frequency[c]!,
      }));
      const fit = fitLogLinear(pts)!;
      expect(fit.n).toBe(10);
      expect(fit.slope).toBeCloseTo(r.slope_acc_per_decade, 9);
      expect(fit.intercept).toBeCloseTo(r.intercept, 9);
      expect(fit.pearsonR).toBeCloseTo(r.pearson_r_acc_vs_log10_freq, 9);
    });
  }

  test('p-value from the t distribution; 95% band narrowest at the mean of log counts', () => {
    // y = x exactly plus a symmetric wobble: r < 1, p small.
    const pts = [1, 2, 3, 4, 5, 6].map((k, i) => ({ count: 10 ** k, accuracy: k / 10 + (i % 2 ? 0.01 : -0.01) }));
    const fit = fitLogLinear(pts)!;
    expect(Math.abs(fit.slope - 0.1)).toBeLessThan(0.01);
    expect(fit.tCrit).toBeCloseTo(2.776445, 5); // t(0.975, 4)
    // p for r with df = 4 through t = r√df/√(1−r²), checked against the t CDF's symmetry.
    expect(fit.pValue).toBeGreaterThan(0);
    expect(fit.pValue).toBeLessThan(1e-4);
    const mid = fitAt(fit, fit.meanLog);
    const edge = fitAt(fit, 6);
    expect(mid.hi - mid.lo).toBeLessThan(edge.hi - edge.lo);
    expect(mid.y).toBeCloseTo(0.35, 2);
    // No correlation at all (a symmetric V over the log counts): r = 0 and p = 1.
    const flat = fitLogLinear([0.5, 0.3, 0.1, 0.3, 0.5].map((accuracy, k) => ({ count: 10 ** (k + 1), accuracy })))!;
    expect(flat.pearsonR).toBeCloseTo(0, 12);
    expect(flat.pValue).toBeCloseTo(1, 12);
    // n = 6 (df 4), where the t CDF has a closed form: F(t) = 1/2 + 3/8 · t/√(1+t²/4) · (1 − t²/(12(1+t²/4))).
    const half = fitLogLinear(
      [
        [1, 0],
        [2, 1],
        [3, 0],
        [4, 1],
        [5, 2],
        [6, 0.5],
      ].map(([lx, accuracy]) => ({ count: 10 ** lx!, accuracy: accuracy! })),
    )!;
    const t = (half.pearsonR * 2) / Math.sqrt(1 - half.pearsonR ** 2);
    const F = 0.5 + (3 / 8) * (t / Math.sqrt(1 + t ** 2 / 4)) * (1 - t ** 2 / (12 * (1 + t ** 2 / 4)));
    expect(half.pearsonR).toBeCloseTo(0.45818979, 7);
    expect(half.pValue).toBeCloseTo(2 * (1 - F), 9);
  });

  test('fewer than 3 usable points, equal counts, and zero counts', () => {
    expect(
      fitLogLinear([
        { count: 10, accuracy: 0.1 },
        { count: 100, accuracy: 0.2 },
      ]),
    ).toBeNull();
    expect(fitLogLinear([1, 2, 3].map(() => ({ count: 50, accuracy: 0.3 })))).toBeNull();
    const f = fitLogLinear([
      { count: 0, accuracy: 0.9 },
      { count: 10, accuracy: 0.1 },
      { count: 100, accuracy: 0.2 },
      { count: 1000, accuracy: 0.3 },
    ])!;
    expect(f.n).toBe(3);
    expect(f.slope).toBeCloseTo(0.1, 12);
    expect(f.pearsonR).toBeCloseTo(1, 12);
    expect(f.pValue).toBe(0);
  });

  test('12 equal-width bins in log space with mean ± std', () => {
    const pts = [
      { count: 1, accuracy: 0.1 },
      { count: 1, accuracy: 0.3 },
      { count: 1e12, accuracy: 0.9 },
      { count: 1e6, accuracy: 0.5 },
    ];
    const bins = logBins(pts, 12);
    expect(bins).toHaveLength(12);
    expect(bins[0]).toMatchObject({ lo: 0, hi: 1, n: 2 });
    expect(bins[0]!.mean).toBeCloseTo(0.2, 12);
    expect(bins[0]!.std).toBeCloseTo(0.1, 12);
    expect(bins[6]).toMatchObject({ n: 1, mean: 0.5, std: 0 });
    expect(bins[11]).toMatchObject({ n: 1, mean: 0.9 }); // the maximum falls in the last bin
    expect(bins.reduce((a, b) => a + b.n, 0)).toBe(4);
  });
});

describe('concepts', () => {
  test('lemmas fold plurals, irregulars and possessives', () => {
    expect(
      ['cats', 'mice', 'geese', 'buses', 'berries', 'boxes', 'dog', "dog's", 'people', 'glass'].map(lemma),
    ).toEqual(['cat', 'mouse', 'goose', 'bus', 'berry', 'box', 'dog', 'dog', 'person', 'glass']);
    expect(conceptKey('Golden_Retrievers')).toBe('golden retriever');
  });

  test('classes match concepts by prompt name, then folder name; the rest stay unmatched', () => {
    const concepts = ['airplane', 'car', 'golden retriever', 'sea lion', 'mouse'];
    const got = matchConcepts(
      [
        { key: 'airplane', name: 'airplanes' },
        { key: 'automobile', name: 'automobile' },
        { key: 'n02099601', name: 'Golden Retriever' },
        { key: 'sea_lions', name: 'n0000' },
        { key: 'mice', name: 'Mice' },
      ],
      concepts,
    );
    expect(got).toEqual(['airplane', null, 'golden retriever', 'sea lion', 'mouse']);
  });

  test('counting: whole words, case-insensitive, plural-folded, multi-word, once per caption', () => {
    const c = new ConceptCounter(['cat', 'hot dog', 'mouse', 'car']);
    for (const t of [
      'A cat and another CAT', // once
      'Cats everywhere.',
      'a category of things', // not "cat"
      'hot dogs at the game', // multi-word, plural
      'a hot day with a dog', // not "hot dog"
      'three mice', // irregular plural
      'the carpet', // not "car"
      "the car's door",
    ])
      c.add(t);
    expect(c.counts()).toEqual({ cat: 2, 'hot dog': 1, mouse: 1, car: 1 });
    expect(c.texts).toBe(8);
  });

  test('exact counts on a generated corpus of 50,000 captions with known counts', () => {
    const concepts = [...CORPUS_CONCEPTS, 'teddy bear'];
    // A multi-word concept, with fillers that hold its words apart ("a bear", "teddy") and substrings.
    const fillers = ['a photo of', 'there is', 'my', 'the big', 'category', 'dogma', 'shipment', 'a bear', 'teddy'];
    const expected = Object.fromEntries(concepts.map((c) => [c, 0]));
    const c = new ConceptCounter(concepts);
    for (const { caption, mentions } of captions(50_000, 7, concepts, fillers)) {
      for (const m of mentions) expected[m]! += 1;
      c.add(caption);
    }
    expect(c.texts).toBe(50_000);
    expect(c.counts()).toEqual(expected);
  });
});

describe('count tables', () => {
  test('JSON, CSV with a header, TSV; errors name the file and line', () => {
    expect(parseCountTable('a.json', '{"cat": 3, "dog": 0}')).toEqual({ cat: 3, dog: 0 });
    expect(parseCountTable('a.csv', 'concept,count\ncat,3\n"hot dog, grilled",12\n')).toEqual({
      cat: 3,
      'hot dog, grilled': 12,
    });
    expect(parseCountTable('a.tsv', 'cat\t3\ndog\t4')).toEqual({ cat: 3, dog: 4 });
    expect(() => parseCountTable('b.json', '{"cat": "many"}')).toThrow(/b\.json.*cat/);
    expect(() => parseCountTable('b.csv', 'cat,3\ndog,lots')).toThrow(/b\.csv, line 2/);
    expect(() => parseCountTable('c.json', '{"cat": 1')).toThrow(/c\.json is not valid JSON/);
  });
});
