/**
 * Slice statistics against values computed independently:
 * - Wilson intervals: scipy 1.17 `binomtest(k, n).proportion_ci(method='wilson')` (printed to 17 digits);
 * - quantile cuts: numpy 2.4 `np.quantile(x, [.25, .5, .75])` (linear, the default), then the tie
 *   rule worked by hand;
 * - "any of" scoring and the permutation p-value: exact answers counted by hand below;
 * - Holm: the step-down rule worked by hand;
 * - the bootstrap: the same seed twice gives the same interval, another seed another one.
 */
import { describe, expect, test } from 'vitest';
import { binOf, bootstrapGapCi, gapOf, holm, permutationGapP, quantileEdges, wilson } from '../../src/core/stats';
import { binnedValues, crossTable, imageOutcomes, recallBySlice, sliceBy, adjustAcross } from '../../src/core/slices';
import type { Predictions } from '../../src/core/metrics';

describe('Wilson 95% interval', () => {
  // [k, n, low, high] from scipy.stats.binomtest(k, n).proportion_ci(method='wilson').
  const SCIPY: [number, number, number, number][] = [
    [0, 10, 0.0, 0.27753279986288926],
    [7, 10, 0.39677814746114526, 0.892208732593699],
    [45, 50, 0.7863976856252034, 0.9565242350681095],
    [50, 50, 0.9286524008666412, 1.0],
    [1, 3, 0.06149194472039626, 0.7923403991979523],
    [312, 1000, 0.2840496860924683, 0.3413891750981004],
  ];
  test.each(SCIPY)('%i of %i', (k, n, lo, hi) => {
    const [a, b] = wilson(k, n);
    expect(a).toBeCloseTo(lo, 12);
    expect(b).toBeCloseTo(hi, 12);
  });
  test('no images: the whole range', () => expect(wilson(0, 0)).toEqual([0, 1]));
});

describe('quantile bins with ties', () => {
  test('repeated minimum: the cut at it is dropped, equal values share a bin', () => {
    const x = [1, 1, 1, 1, 2, 3, 4, 5];
    // numpy: [1, 1.5, 3.25]; the cut at 1 equals the minimum, so three bins remain.
    expect(quantileEdges(x, 4)).toEqual([1.5, 3.25]);
    expect(x.map((v) => binOf(v, [1.5, 3.25]))).toEqual([0, 0, 0, 0, 1, 1, 2, 2]);
  });
  test('ties at a cut go to the upper bin together', () => {
    const x = [3, 1, 2, 10, 7, 7, 7, 4, 5, 6];
    const cuts = quantileEdges(x, 4);
    expect(cuts).toEqual([3.25, 5.5, 7]); // numpy: [3.25, 5.5, 7.0]
    const { values, order } = binnedValues(x, cuts);
    expect(order).toEqual(['[1, 3.25)', '[3.25, 5.5)', '[5.5, 7)', '[7, 10]']);
    expect(values.map((v) => v[0])).toEqual([
      '[1, 3.25)',
      '[1, 3.25)',
      '[1, 3.25)',
      '[7, 10]',
      '[7, 10]',
      '[7, 10]',
      '[7, 10]',
      '[3.25, 5.5)',
      '[3.25, 5.5)',
      '[5.5, 7)',
    ]);
  });
  test('edited edges: unsorted and duplicated cuts, NaN without a group', () => {
    const { values, order } = binnedValues([10, 20, 30, NaN], [25, 15, 15]);
    expect(order).toEqual(['[10, 15)', '[15, 25)', '[25, 30]']);
    expect(values).toEqual([['[10, 15)'], ['[15, 25)'], ['[25, 30]'], []]);
  });
  test('a constant column gives one bin', () => expect(quantileEdges([5, 5, 5], 4)).toEqual([]));
});

describe('"any of" scoring', () => {
  // Three classes; per image the top-3 class indices (k = 3).
  const classes = ['n02123045', 'dog', 'golden_retriever'];
  const names = ['tabby cat', 'dog', 'Golden Retriever'];
  const pred: Predictions = {
    k: 3,
    topk: Int32Array.from([0, 1, 2, 1, 2, 0, 2, 0, 1, 1, 0, 2]),
    topkProb: Float32Array.from([0.5, 0.3, 0.2, 0.6, 0.3, 0.1, 0.9, 0.05, 0.05, 0.4, 0.35, 0.25]),
  };
  const labels = Int32Array.from([0, 2, 1, 2]);
  test('folder labels without metadata', () => {
    const o = imageOutcomes(pred, labels, classes, names);
    expect([...o.correct1]).toEqual([1, 0, 0, 0]);
    expect([...o.correct5]).toEqual([1, 1, 1, 1]);
    expect([...o.confidence]).toEqual([0.5, 0.6, 0.9, 0.4].map(Math.fround));
  });
  test('a prediction is right when its folder or prompt name is any acceptable label', () => {
    const accepted = [
      ['n02123045'], // image 0: folder name of class 0, predicted 0 → right
      ['golden retriever', 'dog'], // image 1: predicted "dog" → right by any-of
      ['GOLDEN-RETRIEVER'], // image 2: predicted class 2 by its prompt name, case and dash folded → right
      null, // image 3: no metadata label, folder rule: label 2, predicted 1 → wrong
    ];
    const o = imageOutcomes(pred, labels, classes, names, accepted);
    expect([...o.correct1]).toEqual([1, 1, 1, 0]);
    // top-3 of image 3 holds class 2 → right in top-k; acceptable label outside the classes → never right.
    expect([...imageOutcomes(pred, labels, classes, names, [['cat'], ['cat'], ['cat'], null]).correct5]).toEqual([
      0, 0, 0, 1,
    ]);
  });
});

describe('gap, permutation test, bootstrap', () => {
  test('permutation p-value on a case with a known answer', () => {
    // Pool {1,1,0,0} split into two groups of two: of the C(4,2) = 6 splits, 2 give a gap of 1
    // ({1,1} | {0,0} either way), so P(gap ≥ 1) = 1/3 exactly.
    const p = permutationGapP(
      [
        [1, 1],
        [0, 0],
      ],
      20_000,
      7,
    );
    expect(Math.abs(p - 1 / 3)).toBeLessThan(0.015); // 4.5 standard errors of a 20,000-draw estimate
    // No difference at all: every permutation's gap is ≥ 0, so p = 1.
    expect(
      permutationGapP(
        [
          [1, 0],
          [0, 1],
        ],
        500,
        1,
      ),
    ).toBe(1);
    // Groups of 30 all right vs all wrong: C(60,30) ≈ 1.2e17 splits, 2 of them as extreme → p = 1/(1+reps).
    expect(permutationGapP([new Array(30).fill(1), new Array(30).fill(0)], 999, 3)).toBe(1 / 1000);
  });
  test('gap is max − min of group means', () => {
    expect(gapOf([[1, 1, 0, 0], [1], [0, 0, 0, 1]])).toBeCloseTo(0.75, 12);
  });
  test('bootstrap interval is reproducible for a seed and covers the gap', () => {
    const a = Array.from({ length: 80 }, (_, i) => (i % 5 === 0 ? 0 : 1)); // 0.8
    const b = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? 0 : 1)); // 0.5
    const ci = bootstrapGapCi(b, a, 1000, 42);
    expect(bootstrapGapCi(b, a, 1000, 42)).toEqual(ci);
    expect(bootstrapGapCi(b, a, 1000, 43)).not.toEqual(ci);
    expect(ci[0]).toBeLessThan(0.3);
    expect(ci[1]).toBeGreaterThan(0.3);
    // Normal approximation of the gap's spread: sqrt(.8·.2/80 + .5·.5/60) = 0.0803; the 95% width ≈ 0.31.
    expect(ci[1] - ci[0]).toBeGreaterThan(0.25);
    expect(ci[1] - ci[0]).toBeLessThan(0.38);
    // Alike groups: the interval of the fixed pair straddles the observed gap (here 0), not only above it.
    const same = bootstrapGapCi(a, a, 1000, 1);
    expect(same[0]).toBeLessThan(0);
    expect(same[1]).toBeGreaterThan(0);
  });
});

describe('Holm', () => {
  test('step-down adjustment by hand', () => {
    // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06 (monotone).
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(adj[i]).toBeCloseTo(v, 12));
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
    expect(holm([])).toEqual([]);
  });
});

describe('slices of a run', () => {
  // 100 images: group "a" (40) 30 right, group "b" (50) 20 right, group "c" (10) all right.
  const n = 100;
  const correct1 = Uint8Array.from({ length: n }, (_, i) => (i < 30 || (i >= 40 && i < 60) || i >= 90 ? 1 : 0));
  const o = {
    correct1,
    correct5: Uint8Array.from(correct1, () => 1),
    confidence: Float32Array.from({ length: n }, () => 0.75),
    label: Int32Array.from({ length: n }, (_, i) => i % 2),
  };
  const values = Array.from({ length: n }, (_, i) => [i < 40 ? 'a' : i < 90 ? 'b' : 'c']);
  test('small groups are greyed and left out of worst, best and gap unless included', () => {
    const s = sliceBy('g', values, o, { minSize: 30 });
    expect(s.groups.map((g) => [g.value, g.n, g.acc1, g.small])).toEqual([
      ['a', 40, 0.75, false],
      ['b', 50, 0.4, false],
      ['c', 10, 1, true],
    ]);
    expect(s.groups[0]!.acc1_ci95).toEqual(wilson(30, 40));
    expect([s.worst, s.best]).toEqual(['b', 'a']);
    expect(s.gap).toBeCloseTo(0.35, 12);
    // ECE of group a: one confidence bin (0.75), |0.75 − 0.75| = 0; group b: |0.4 − 0.75| = 0.35.
    expect(s.groups[0]!.ece).toBeCloseTo(0, 6);
    expect(s.groups[1]!.ece).toBeCloseTo(0.35, 6);
    const all = sliceBy('g', values, o, { minSize: 30, includeSmall: true });
    expect([all.worst, all.best, all.gap]).toEqual(['b', 'c', 0.6]);
    expect(s.gap_p_value).toBeLessThan(0.01);
  });
  test('Holm across attributes and the two-attribute table', () => {
    const parity = Array.from({ length: n }, (_, i) => [i % 2 ? 'odd' : 'even']);
    const both = adjustAcross([sliceBy('g', values, o), sliceBy('parity', parity, o)]);
    expect(both[0]!.gap_p_holm).toBeCloseTo(
      Math.min(1, 2 * Math.min(both[0]!.gap_p_value!, both[1]!.gap_p_value!)),
      12,
    );
    const t = crossTable(values, parity, o);
    const cell = t.cells.find((c) => c.row === 'a' && c.col === 'even')!;
    expect(cell.n).toBe(20);
    expect(cell.acc1).toBe(15 / 20);
  });
});

describe('retrieval by slice', () => {
  test('Recall@K per group, counted by hand', () => {
    // Images 0, 1 in "a" (1 also in "b"), image 2 in "b"; captions 0-1 of image 0, 2 of image 1, 3 of image 2.
    const values = [['a'], ['a', 'b'], ['b']];
    const r = recallBySlice(values, [0, 0, 1, 2], [1, 7, 3, 20], [2, 1, 11]);
    expect(r.map((g) => [g.value, g.images, g.captions])).toEqual([
      ['a', 2, 3],
      ['b', 2, 2],
    ]);
    // a: caption ranks 1, 7, 3 → R@1 1/3, R@5 2/3, R@10 1; image ranks 2, 1 → R@1 1/2, R@5 1.
    expect(r[0]!.t2i).toEqual({ 'R@1': 1 / 3, 'R@5': 2 / 3, 'R@10': 1 });
    expect(r[0]!.i2t).toEqual({ 'R@1': 0.5, 'R@5': 1, 'R@10': 1 });
    // b: caption ranks 3, 20; image ranks 1, 11.
    expect(r[1]!.t2i).toEqual({ 'R@1': 0, 'R@5': 0.5, 'R@10': 0.5 });
    expect(r[1]!.i2t).toEqual({ 'R@1': 0.5, 'R@5': 0.5, 'R@10': 0.5 });
  });
});
