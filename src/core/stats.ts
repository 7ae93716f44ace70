/**
 * Small statistics for slice analysis: Wilson score intervals, quantile bin edges (ties kept
 * together), a seeded random generator, the max − min gap between group rates with a stratified
 * bootstrap interval and a permutation-test p-value, and Holm's step-down adjustment.
 * Rates are fractions in [0, 1]; outcomes are 0/1 per image.
 */
import { quantileSorted } from 'd3-array';

/** z for a two-sided 95 % interval (the 0.975 quantile of the standard normal). */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval for `k` successes out of `n` (Wilson 1927), as scipy's
 * `binomtest(k, n).proportion_ci(method='wilson')`. `[0, 1]` when n = 0.
 */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (n <= 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/**
 * Inner cut points for `bins` quantile bins of `values` (numpy's default linear quantiles, R type 7).
 * Cuts that coincide (ties) or do not exceed the minimum are dropped, so equal values always share a
 * bin and no bin is empty by construction; fewer bins than asked come back when values repeat.
 */
export function quantileEdges(values: number[], bins: number): number[] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0 || bins < 2) return [];
  const min = sorted[0]!;
  const cuts: number[] = [];
  for (let k = 1; k < bins; k++) {
    const q = quantileSorted(sorted, k / bins)!;
    if (q > min && q !== cuts[cuts.length - 1]) cuts.push(q);
  }
  return cuts;
}

/** The bin of `v` given ascending inner cuts: bin b holds cuts[b−1] ≤ v < cuts[b]. */
export function binOf(v: number, cuts: number[]): number {
  let b = 0;
  while (b < cuts.length && v >= cuts[b]!) b++;
  return b;
}

/** Seeded 32-bit generator (mulberry32): the same seed gives the same stream on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Max − min of the group means of 0/1 outcomes (each group a non-empty list). */
export function gapOf(groups: ArrayLike<number>[]): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const g of groups) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]!;
    const m = s / g.length;
    if (m < lo) lo = m;
    if (m > hi) hi = m;
  }
  return groups.length > 0 ? hi - lo : 0;
}

/**
 * Percentile bootstrap 95 % interval of mean(high) − mean(low), the gap between the observed best and
 * worst groups: each group is resampled with replacement within itself (its size fixed), `reps`
 * times, from a seeded generator, so a seed reproduces the interval. The pair stays fixed: re-picking
 * the extremes in every resample (max − min) biases the bootstrap upward when groups are alike, and
 * the interval could then exclude the observed gap; whether the gap beats chance, selection included,
 * is the permutation test's question.
 */
export function bootstrapGapCi(
  low: ArrayLike<number>,
  high: ArrayLike<number>,
  reps = 1000,
  seed = 0,
): [number, number] {
  if (low.length === 0 || high.length === 0) return [0, 0];
  const rand = seededRandom(seed);
  const diffs = new Array<number>(reps);
  const meanOf = (g: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[Math.floor(rand() * g.length)]!;
    return s / g.length;
  };
  for (let r = 0; r < reps; r++) {
    const lo = meanOf(low);
    diffs[r] = meanOf(high) - lo;
  }
  diffs.sort((a, b) => a - b);
  return [quantileSorted(diffs, 0.025)!, quantileSorted(diffs, 0.975)!];
}

/**
 * Permutation test of "the gap is no larger than chance": the outcomes are shuffled across the
 * groups (sizes fixed) `reps` times; p = (1 + #{permuted gap ≥ observed}) / (1 + reps), the
 * Monte-Carlo estimate that never returns 0 (Phipson & Smyth 2010).
 */
export function permutationGapP(groups: ArrayLike<number>[], reps = 2000, seed = 0): number {
  if (groups.length < 2) return 1;
  const observed = gapOf(groups);
  const pool: number[] = [];
  for (const g of groups) for (let i = 0; i < g.length; i++) pool.push(g[i]!);
  const rand = seededRandom(seed);
  const sizes = groups.map((g) => g.length);
  const perm = Float64Array.from(pool);
  let atLeast = 0;
  // Floating sums of the same 0/1 values can differ in the last bit; count those as ties.
  const eps = 1e-12;
  for (let r = 0; r < reps; r++) {
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    let off = 0;
    const parts = sizes.map((s) => {
      const part = perm.subarray(off, off + s);
      off += s;
      return part;
    });
    if (gapOf(parts) >= observed - eps) atLeast++;
  }
  return (1 + atLeast) / (1 + reps);
}

/** Holm's step-down adjusted p-values, in the input order (each ≤ 1, monotone in the sorted order). */
export function holm(pValues: number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]!);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[i]!));
    out[i] = running;
  });
  return out;
}
