/**
 * Paired comparison of classification runs on the same images: the 2×2 agreement table, McNemar's
 * exact test, a seeded paired bootstrap interval of the accuracy difference, per-class differences
 * with an interval, the classes where two models disagree most, the Pareto frontier of accuracy
 * against a cost, and CLIP_benchmark's long CSV. Rates are fractions in [0, 1]; "B − A" throughout.
 */
import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf';
import { seededRandom, wilson } from './stats';
import { csvRows } from './results';

/** One run reduced to what pairing needs: per scored image its file, true and predicted class index. */
export interface RunOutcomes {
  files: readonly string[];
  labels: ArrayLike<number>;
  preds: ArrayLike<number>;
}

/** Two runs on their common images (matched by file path), in A's order. */
export interface PairedOutcomes {
  files: string[];
  labels: Int32Array;
  predA: Int32Array;
  predB: Int32Array;
  /** 1 where the model's top-1 is right. */
  rightA: Uint8Array;
  rightB: Uint8Array;
}

export const BOOTSTRAP_REPS = 2000;
export const COMPARE_SEED = 0;

/**
 * Pair two runs by file path. Images only one run scored (it failed to decode in the other) are left
 * out. Throws when the runs disagree on an image's label (they were not run on the same folder).
 */
export function pairRuns(a: RunOutcomes, b: RunOutcomes): PairedOutcomes {
  const inB = new Map<string, number>();
  b.files.forEach((f, i) => inB.set(f, i));
  const idx: [number, number][] = [];
  a.files.forEach((f, i) => {
    const j = inB.get(f);
    if (j === undefined) return;
    if (a.labels[i] !== b.labels[j])
      throw new Error(`${f} has label ${a.labels[i]} in one run and ${b.labels[j]} in the other: not the same folder.`);
    idx.push([i, j]);
  });
  const n = idx.length;
  const out: PairedOutcomes = {
    files: idx.map(([i]) => a.files[i]!),
    labels: new Int32Array(n),
    predA: new Int32Array(n),
    predB: new Int32Array(n),
    rightA: new Uint8Array(n),
    rightB: new Uint8Array(n),
  };
  idx.forEach(([i, j], r) => {
    out.labels[r] = a.labels[i]!;
    out.predA[r] = a.preds[i]!;
    out.predB[r] = b.preds[j]!;
    out.rightA[r] = a.preds[i] === a.labels[i] ? 1 : 0;
    out.rightB[r] = b.preds[j] === b.labels[j] ? 1 : 0;
  });
  return out;
}

export type AgreementCell = 'both_right' | 'only_a' | 'only_b' | 'both_wrong';

export interface Agreement {
  both_right: number;
  only_a: number;
  only_b: number;
  both_wrong: number;
}

export function cellOf(rightA: number, rightB: number): AgreementCell {
  if (rightA && rightB) return 'both_right';
  if (rightA) return 'only_a';
  if (rightB) return 'only_b';
  return 'both_wrong';
}

/** The 2×2 table: both right, only A right, only B right, both wrong (counts of images). */
export function agreementTable(rightA: ArrayLike<number>, rightB: ArrayLike<number>): Agreement {
  const t: Agreement = { both_right: 0, only_a: 0, only_b: 0, both_wrong: 0 };
  for (let i = 0; i < rightA.length; i++) t[cellOf(rightA[i]!, rightB[i]!)] += 1;
  return t;
}

/** Row indices of one cell of the table (for its gallery). */
export function cellRows(p: PairedOutcomes, cell: AgreementCell): number[] {
  const rows: number[] = [];
  for (let i = 0; i < p.files.length; i++) if (cellOf(p.rightA[i]!, p.rightB[i]!) === cell) rows.push(i);
  return rows;
}

/**
 * McNemar's exact test, two-sided: under H0 the `onlyA` discordant pairs among `onlyA + onlyB` follow
 * Binomial(n, ½), p = min(1, 2·P(X ≤ min(onlyA, onlyB))). 1 when there are no discordant pairs.
 */
export function mcnemarExactP(onlyA: number, onlyB: number): number {
  const n = onlyA + onlyB;
  if (n === 0) return 1;
  return Math.min(1, 2 * binomialCdf(Math.min(onlyA, onlyB), n, 0.5));
}

/** Index of the q-quantile in a sorted array of `n` values (linear interpolation, numpy's default). */
function quantileOf(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * Seeded paired bootstrap 95 % interval of acc(B) − acc(A): images are resampled with replacement
 * (both models' outcomes together, so the pairing is kept), `reps` times; the 2.5 and 97.5 percentiles
 * (linear interpolation). The same seed gives the same interval.
 */
export function bootstrapAccDiffCi(
  rightA: ArrayLike<number>,
  rightB: ArrayLike<number>,
  reps = BOOTSTRAP_REPS,
  seed = COMPARE_SEED,
): [number, number] {
  const n = rightA.length;
  if (n === 0) return [NaN, NaN];
  // Per image: +1 only B right, −1 only A right, 0 otherwise; the mean is the difference.
  const d = new Int8Array(n);
  for (let i = 0; i < n; i++) d[i] = rightB[i]! - rightA[i]!;
  const rand = seededRandom(seed);
  const diffs = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rand() * n)]!;
    diffs[r] = s / n;
  }
  diffs.sort();
  return [quantileOf(diffs, 0.025), quantileOf(diffs, 0.975)];
}

export interface ClassDiff {
  classIndex: number;
  name: string;
  nA: number;
  nB: number;
  accA: number;
  accB: number;
  /** accB − accA. */
  diff: number;
  /**
   * Newcombe's hybrid score 95 % interval of the difference (Newcombe 1998, method 10, from the two
   * Wilson intervals). It treats the sides as independent, so on paired images it is conservative.
   */
  ci95: [number, number];
}

/** Newcombe's method 10: the difference pB − pA with an interval from each side's Wilson interval. */
export function newcombeDiff(kA: number, nA: number, kB: number, nB: number): [number, number] {
  const pA = nA > 0 ? kA / nA : 0;
  const pB = nB > 0 ? kB / nB : 0;
  const [lA, uA] = wilson(kA, nA);
  const [lB, uB] = wilson(kB, nB);
  const d = pB - pA;
  return [d - Math.sqrt((pB - lB) ** 2 + (uA - pA) ** 2), d + Math.sqrt((uB - pB) ** 2 + (pA - lA) ** 2)];
}

/**
 * Per-class accuracy of each side (recall of the class) on the paired images, B − A with its interval,
 * sorted by difference, largest gain first (ties by class index). Classes with no images are left out.
 */
export function perClassDiffs(p: PairedOutcomes, classNames: readonly string[]): ClassDiff[] {
  const C = classNames.length;
  const n = new Int32Array(C);
  const kA = new Int32Array(C);
  const kB = new Int32Array(C);
  for (let i = 0; i < p.labels.length; i++) {
    const c = p.labels[i]!;
    n[c]! += 1;
    kA[c]! += p.rightA[i]!;
    kB[c]! += p.rightB[i]!;
  }
  const out: ClassDiff[] = [];
  for (let c = 0; c < C; c++) {
    if (n[c] === 0) continue;
    const accA = kA[c]! / n[c]!;
    const accB = kB[c]! / n[c]!;
    out.push({
      classIndex: c,
      name: classNames[c]!,
      nA: n[c]!,
      nB: n[c]!,
      accA,
      accB,
      diff: accB - accA,
      ci95: newcombeDiff(kA[c]!, n[c]!, kB[c]!, n[c]!),
    });
  }
  return out.sort((x, y) => y.diff - x.diff || x.classIndex - y.classIndex);
}

export interface ClassDisagreement {
  classIndex: number;
  name: string;
  n: number;
  /** Images of the class where the two top-1 predictions differ. */
  disagree: number;
  rate: number;
}

/** Classes by the share of their images on which the two models predict different classes, most first. */
export function disagreementByClass(p: PairedOutcomes, classNames: readonly string[]): ClassDisagreement[] {
  const C = classNames.length;
  const n = new Int32Array(C);
  const k = new Int32Array(C);
  for (let i = 0; i < p.labels.length; i++) {
    const c = p.labels[i]!;
    n[c]! += 1;
    if (p.predA[i] !== p.predB[i]) k[c]! += 1;
  }
  const out: ClassDisagreement[] = [];
  for (let c = 0; c < C; c++)
    if (n[c]! > 0) out.push({ classIndex: c, name: classNames[c]!, n: n[c]!, disagree: k[c]!, rate: k[c]! / n[c]! });
  return out.sort((x, y) => y.rate - x.rate || y.disagree - x.disagree || x.classIndex - y.classIndex);
}

/**
 * The per-class table as CSV, rows in the order given: both models, the class, its n, each side's
 * accuracy, B − A with its 95 % interval, and the images on which the two top-1 predictions differ.
 */
export function perClassCsv(
  a: string,
  b: string,
  rows: readonly ClassDiff[],
  disagreement: readonly ClassDisagreement[],
): string {
  const differ = new Map(disagreement.map((d) => [d.classIndex, d.disagree]));
  const r6 = (x: number) => Number(x.toFixed(6));
  const out: (string | number)[][] = [
    ['model_a', 'model_b', 'class', 'n', 'acc_a', 'acc_b', 'diff_b_minus_a', 'ci95_low', 'ci95_high', 'disagree'],
  ];
  for (const c of rows)
    out.push([
      a,
      b,
      c.name,
      c.nA,
      r6(c.accA),
      r6(c.accB),
      r6(c.diff),
      r6(c.ci95[0]),
      r6(c.ci95[1]),
      differ.get(c.classIndex) ?? 0,
    ]);
  return csvRows(out);
}

export interface PairSummary extends Agreement {
  a: string;
  b: string;
  n: number;
  accA: number;
  accB: number;
  mcnemar_p: number;
  /** acc(B) − acc(A) on the paired images. */
  acc_diff: number;
  acc_diff_ci95: [number, number];
}

/** Everything the pair table and the bench's `comparison.pairs` hold. */
export function summarizePair(
  a: string,
  b: string,
  p: PairedOutcomes,
  reps = BOOTSTRAP_REPS,
  seed = COMPARE_SEED,
): PairSummary {
  return summarizeOutcomes(a, b, p.rightA, p.rightB, reps, seed);
}

/**
 * The same summary for any paired 0/1 outcomes (an image right at top-1, a caption's image found
 * within K): the 2×2 table, McNemar's exact p and the bootstrap interval of the rate difference.
 */
export function summarizeOutcomes(
  a: string,
  b: string,
  rightA: Uint8Array,
  rightB: Uint8Array,
  reps = BOOTSTRAP_REPS,
  seed = COMPARE_SEED,
): PairSummary {
  const t = agreementTable(rightA, rightB);
  const n = rightA.length;
  const accA = n ? (t.both_right + t.only_a) / n : NaN;
  const accB = n ? (t.both_right + t.only_b) / n : NaN;
  return {
    a,
    b,
    n,
    ...t,
    accA,
    accB,
    mcnemar_p: mcnemarExactP(t.only_a, t.only_b),
    acc_diff: accB - accA,
    acc_diff_ci95: bootstrapAccDiffCi(rightA, rightB, reps, seed),
  };
}

/**
 * Indices of the points on the Pareto frontier of accuracy (higher is better) against a cost axis:
 * `better: 'higher'` for images/s, `'lower'` for download size. A point is on it when no other point is
 * at least as good on both axes and strictly better on one. Points with a non-finite value are skipped.
 * Returned in order of the cost axis, best cost first.
 */
export function paretoFrontier(points: readonly { x: number; y: number }[], better: 'higher' | 'lower'): number[] {
  const sign = better === 'higher' ? 1 : -1;
  const ok = points.map((p, i) => i).filter((i) => Number.isFinite(points[i]!.x) && Number.isFinite(points[i]!.y));
  const dominated = (i: number) =>
    ok.some((j) => {
      if (j === i) return false;
      const pi = points[i]!;
      const pj = points[j]!;
      const xBetterEq = sign * pj.x >= sign * pi.x;
      return xBetterEq && pj.y >= pi.y && (sign * pj.x > sign * pi.x || pj.y > pi.y);
    });
  return ok.filter((i) => !dominated(i)).sort((i, j) => sign * points[j]!.x - sign * points[i]!.x);
}

/** One model's row for the long CSV. */
export interface LongCsvModel {
  /** Model id as recorded (Hub id, URL or folder name). */
  model: string;
  /** What CLIP_benchmark calls `pretrained` (here the weight variant: fp32, fp16, q8…). */
  pretrained: string;
  dataset: string;
  task: 'zeroshot_classification' | 'zeroshot_retrieval';
  metrics: Record<string, number | null>;
}

/**
 * CLIP_benchmark's results in long form: one row per model × dataset × metric, columns
 * `model_fullname,model,pretrained,dataset,task,metric,value` (`model_fullname` = model + ' ' +
 * pretrained, as its `build` makes it). Metrics without a value (top-5 under 5 classes) are left out.
 */
export function longCsv(models: readonly LongCsvModel[]): string {
  const rows: (string | number)[][] = [['model_fullname', 'model', 'pretrained', 'dataset', 'task', 'metric', 'value']];
  for (const m of models)
    for (const [metric, value] of Object.entries(m.metrics))
      if (value !== null && Number.isFinite(value))
        rows.push([`${m.model} ${m.pretrained}`, m.model, m.pretrained, m.dataset, m.task, metric, value]);
  return csvRows(rows);
}
