/**
 * Model comparison core against values computed independently:
 * - McNemar's exact p: scipy 1.17 `binomtest(min(b, c), b + c, 0.5).pvalue` (two-sided), printed to 17 digits;
 * - Newcombe's per-class interval: worked in Python from scipy's Wilson intervals
 *   (`binomtest(k, n).proportion_ci(method='wilson')`) and Newcombe's method-10 formula; the 56/70 vs 48/80
 *   case is Newcombe (1998)'s own example (0.0524 to 0.3339 for A − B; here B − A, so negated);
 * - the 2×2 table, per-class differences, disagreement and the Pareto frontier: counted by hand below;
 * - the bootstrap: the same seed gives the same interval, another seed another one, and it lies within
 *   0.006 of the paired normal (Wald) interval d ± 1.96·√((b + c)/n − d²)/√n computed here from the counts.
 */
import { describe, expect, test } from 'vitest';
import {
  agreementTable,
  bootstrapAccDiffCi,
  cellRows,
  disagreementByClass,
  longCsv,
  mcnemarExactP,
  newcombeDiff,
  pairRuns,
  paretoFrontier,
  perClassCsv,
  perClassDiffs,
  summarizePair,
} from '../../src/core/compare';

describe('McNemar exact two-sided p', () => {
  const SCIPY: [number, number, number][] = [
    [5, 5, 1.0],
    [3, 12, 0.03515625],
    [10, 25, 0.016673847800120715],
    [40, 60, 0.05688793364098089],
    [1, 0, 1.0],
    [0, 7, 0.015625],
    // The two toy CIFAR-10 references (only A 160, only B 93).
    [160, 93, 3.0178753363674332e-5],
  ];
  test.each(SCIPY)('only A %i, only B %i', (b, c, p) => expect(mcnemarExactP(b, c)).toBeCloseTo(p, 12));
  test('symmetric, and 1 without discordant pairs', () => {
    expect(mcnemarExactP(12, 3)).toBe(mcnemarExactP(3, 12));
    expect(mcnemarExactP(0, 0)).toBe(1);
  });
});

describe('pairing, the 2×2 table and its cells', () => {
  // Classes 0..2. A and B list the files in other orders; B lacks d.jpg (failed to decode there).
  const a = {
    files: ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg', 'f.jpg'],
    labels: [0, 0, 1, 1, 2, 2],
    preds: [0, 1, 1, 0, 2, 0],
  };
  const b = {
    files: ['f.jpg', 'e.jpg', 'c.jpg', 'b.jpg', 'a.jpg'],
    labels: [2, 2, 1, 0, 0],
    preds: [2, 1, 0, 0, 0],
  };
  const p = pairRuns(a, b);
  test('pairs by file, in A order, dropping images only one side scored', () => {
    expect(p.files).toEqual(['a.jpg', 'b.jpg', 'c.jpg', 'e.jpg', 'f.jpg']);
    expect(Array.from(p.rightA)).toEqual([1, 0, 1, 1, 0]);
    expect(Array.from(p.rightB)).toEqual([1, 1, 0, 0, 1]);
  });
  test('table counted by hand: a both right; b, f only B; c, e only A', () => {
    expect(agreementTable(p.rightA, p.rightB)).toEqual({ both_right: 1, only_a: 2, only_b: 2, both_wrong: 0 });
    expect(cellRows(p, 'only_b').map((i) => p.files[i])).toEqual(['b.jpg', 'f.jpg']);
  });
  test('per-class differences sorted by B − A, each with both sides’ n', () => {
    const d = perClassDiffs(p, ['cat', 'dog', 'eel']);
    expect(d.map((x) => [x.name, x.nA, x.nB, x.accA, x.accB])).toEqual([
      ['cat', 2, 2, 0.5, 1],
      ['eel', 2, 2, 0.5, 0.5],
      ['dog', 1, 1, 1, 0],
    ]);
    expect(d[0]!.diff).toBe(0.5);
  });
  test('per-class CSV: the rows in the order given, with the disagreement counts', () => {
    const d = perClassDiffs(p, ['cat', 'dog', 'eel']);
    const lines = perClassCsv('A', 'B', [...d].reverse(), disagreementByClass(p, ['cat', 'dog', 'eel']))
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('model_a,model_b,class,n,acc_a,acc_b,diff_b_minus_a,ci95_low,ci95_high,disagree');
    expect(lines.slice(1).map((l) => l.split(',').slice(2, 7).concat(l.split(',')[9]!))).toEqual([
      ['dog', '1', '1', '0', '-1', '1'],
      ['eel', '2', '0.5', '0.5', '0', '2'],
      ['cat', '2', '0.5', '1', '0.5', '1'],
    ]);
    expect(Number(lines[3]!.split(',')[7])).toBeCloseTo(d[0]!.ci95[0], 6);
  });
  test('disagreement: dog 1 of 1, eel 2 of 2, cat 1 of 2', () => {
    const d = disagreementByClass(p, ['cat', 'dog', 'eel']);
    expect(d.map((x) => [x.name, x.disagree, x.n])).toEqual([
      ['eel', 2, 2],
      ['dog', 1, 1],
      ['cat', 1, 2],
    ]);
  });
  test('a label mismatch names the file', () => {
    expect(() => pairRuns(a, { ...b, labels: [2, 2, 1, 1, 0] })).toThrow(/b\.jpg/);
  });
});

describe('Newcombe interval of B − A', () => {
  const PY: [number, number, number, number, number, number][] = [
    [56, 70, 48, 80, -0.3338726540369059, -0.052431472402364815],
    [9, 10, 3, 10, -0.8090179735354881, -0.17052272393450302],
    [0, 10, 10, 10, 0.6075093504305242, 1.0],
    [45, 100, 60, 100, 0.011723935319973455, 0.2804485210107637],
  ];
  test.each(PY)('%i/%i vs %i/%i', (kA, nA, kB, nB, lo, hi) => {
    const [l, h] = newcombeDiff(kA, nA, kB, nB);
    expect(l).toBeCloseTo(lo, 10);
    expect(h).toBeCloseTo(hi, 10);
  });
});

describe('seeded paired bootstrap of the accuracy difference', () => {
  // n = 1000: 500 both right, 60 only A, 40 only B, 400 both wrong → d = −0.02.
  const n = 1000;
  const rightA = new Uint8Array(n);
  const rightB = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    rightA[i] = i < 560 ? 1 : 0;
    rightB[i] = i < 500 || (i >= 560 && i < 600) ? 1 : 0;
  }
  test('reproducible for a seed, different for another', () => {
    const a = bootstrapAccDiffCi(rightA, rightB, 2000, 7);
    expect(bootstrapAccDiffCi(rightA, rightB, 2000, 7)).toEqual(a);
    expect(bootstrapAccDiffCi(rightA, rightB, 2000, 8)).not.toEqual(a);
  });
  test('close to the paired normal interval', () => {
    const d = -0.02;
    const se = Math.sqrt(100 / n - d * d) / Math.sqrt(n);
    const [lo, hi] = bootstrapAccDiffCi(rightA, rightB);
    expect(Math.abs(lo - (d - 1.959964 * se))).toBeLessThan(0.006);
    expect(Math.abs(hi - (d + 1.959964 * se))).toBeLessThan(0.006);
    expect(lo).toBeLessThan(d);
    expect(hi).toBeGreaterThan(d);
  });
  test('pair summary: accuracies, difference, McNemar', () => {
    const files = Array.from({ length: n }, (_, i) => `${i}.jpg`);
    const labels = new Int32Array(n);
    const s = summarizePair('A', 'B', {
      files,
      labels,
      predA: labels,
      predB: labels,
      rightA,
      rightB,
    });
    expect([s.both_right, s.only_a, s.only_b, s.both_wrong]).toEqual([500, 60, 40, 400]);
    expect(s.accA).toBeCloseTo(0.56, 12);
    expect(s.acc_diff).toBeCloseTo(-0.02, 12);
    expect(s.mcnemar_p).toBeCloseTo(0.05688793364098089, 12);
  });
});

describe('Pareto frontier', () => {
  // (images/s, acc): P0 (100, .5), P1 (50, .7), P2 (40, .6) dominated by P1, P3 (100, .4) dominated by P0,
  // P4 (10, .8), P5 (NaN, .9) skipped.
  const pts = [
    { x: 100, y: 0.5 },
    { x: 50, y: 0.7 },
    { x: 40, y: 0.6 },
    { x: 100, y: 0.4 },
    { x: 10, y: 0.8 },
    { x: NaN, y: 0.9 },
  ];
  test('speed: higher is better', () => expect(paretoFrontier(pts, 'higher')).toEqual([0, 1, 4]));
  test('size: lower is better', () => {
    // As sizes: P0 100 MB .5, P1 50 MB .7 dominates P0, P2 40 MB .6, P3 100 .4, P4 10 MB .8 dominates all.
    expect(paretoFrontier(pts, 'lower')).toEqual([4]);
    expect(
      paretoFrontier(
        [
          { x: 10, y: 0.5 },
          { x: 20, y: 0.6 },
          { x: 30, y: 0.55 },
        ],
        'lower',
      ),
    ).toEqual([0, 1]);
  });
});

test('long CSV: one row per model × dataset × metric, missing metrics left out', () => {
  const csv = longCsv([
    {
      model: 'org/m,1',
      pretrained: 'fp32',
      dataset: 'dev',
      task: 'zeroshot_classification',
      metrics: { acc1: 0.5, acc5: null },
    },
    {
      model: 'm2',
      pretrained: 'q8',
      dataset: 'dev',
      task: 'zeroshot_classification',
      metrics: { acc1: 0.25, ece: 0.1 },
    },
  ]);
  expect(csv.split('\r\n')).toEqual([
    'model_fullname,model,pretrained,dataset,task,metric,value',
    '"org/m,1 fp32","org/m,1",fp32,dev,zeroshot_classification,acc1,0.5',
    'm2 q8,m2,q8,dev,zeroshot_classification,acc1,0.25',
    'm2 q8,m2,q8,dev,zeroshot_classification,ece,0.1',
    '',
  ]);
});
