/**
 * Accuracy by slice: per group of an image attribute, n, top-1 and top-5 accuracy (each with a Wilson
 * 95 % interval), mean per-class recall and ECE; the worst and best group among those with at least
 * `minSize` images; the max − min top-1 gap with a seeded bootstrap interval and a permutation p-value;
 * Holm-adjusted p-values across attributes; and a two-attribute table. Pure: works on per-image
 * outcomes, so the UI, the bench and the tests share it. Rates are fractions in [0, 1].
 */
import { ECE_BINS, type Predictions } from './metrics';
import { binOf, bootstrapGapCi, holm, permutationGapP, wilson } from './stats';

export const MIN_GROUP_SIZE = 30;
export const BOOTSTRAP_REPS = 1000;
export const PERMUTATION_REPS = 2000;
export const SLICE_SEED = 0;

/** What the run said about each image, in run order. */
export interface ImageOutcomes {
  /** Top-1 right (under the label rule in force: folder label, or any acceptable metadata label). */
  correct1: Uint8Array;
  correct5: Uint8Array;
  /** Top-1 probability. */
  confidence: Float32Array;
  /** Class index of the image (folder label), for mean per-class recall. */
  label: Int32Array;
}

export interface SliceGroup {
  value: string;
  n: number;
  acc1: number;
  acc1_ci95: [number, number];
  acc5: number;
  acc5_ci95: [number, number];
  mean_per_class_recall: number;
  ece: number;
  /** Below the minimum size: shown, but out of worst/best/gap unless included. */
  small: boolean;
  /** Run indices of its images. */
  indices: number[];
}

export interface SliceSummary {
  attribute: string;
  groups: SliceGroup[];
  worst: string | null;
  best: string | null;
  gap: number | null;
  gap_ci95: [number, number] | null;
  gap_p_value: number | null;
  /** Holm-adjusted over the attributes analysed together; set by `adjustAcross`. */
  gap_p_holm: number | null;
}

export interface SliceOptions {
  minSize?: number;
  includeSmall?: boolean;
  seed?: number;
  bootstrapReps?: number;
  permutationReps?: number;
}

/** A label as compared: lower case, `_`/`-`/runs of spaces as one space (`Golden_Retriever` = `golden retriever`). */
export function normLabel(s: string): string {
  return s
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
}

/**
 * Per-image outcomes of a run. Without `accepted` (or where `accepted[i]` is null) an image is right
 * when the prediction is its folder class. With a list of acceptable labels (Dollar Street's
 * ImageNet-mapped labels) a prediction is right when its class — by folder name or prompt name — is
 * any of them ("any of" scoring); top-5 is right when any of the top 5 is.
 */
export function imageOutcomes(
  pred: Predictions,
  labels: Int32Array,
  classes: string[],
  classNames: string[],
  accepted?: (readonly string[] | null)[],
): ImageOutcomes {
  const n = labels.length;
  const { k, topk, topkProb } = pred;
  const keys = classes.map((c, i) => [normLabel(c), normLabel(classNames[i] ?? c)]);
  const correct1 = new Uint8Array(n);
  const correct5 = new Uint8Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const acc = accepted?.[i];
    const set = acc ? new Set(acc.map(normLabel)) : null;
    const right = (c: number) => (set ? keys[c]!.some((key) => set.has(key)) : c === labels[i]);
    correct1[i] = right(topk[i * k]!) ? 1 : 0;
    for (let j = 0; j < k && !correct5[i]; j++) correct5[i] = right(topk[i * k + j]!) ? 1 : 0;
    confidence[i] = topkProb[i * k]!;
  }
  return { correct1, correct5, confidence, label: labels };
}

function eceOf(idx: number[], o: ImageOutcomes): number {
  const count = new Float64Array(ECE_BINS);
  const correct = new Float64Array(ECE_BINS);
  const conf = new Float64Array(ECE_BINS);
  for (const i of idx) {
    const c = o.confidence[i]!;
    const b = Math.min(ECE_BINS - 1, Math.max(0, Math.ceil(c * ECE_BINS) - 1));
    count[b]! += 1;
    correct[b]! += o.correct1[i]!;
    conf[b]! += c;
  }
  let ece = 0;
  for (let b = 0; b < ECE_BINS; b++) {
    if (count[b]! > 0) ece += (count[b]! / idx.length) * Math.abs(correct[b]! / count[b]! - conf[b]! / count[b]!);
  }
  return ece;
}

function meanPerClassRecall(idx: number[], o: ImageOutcomes): number {
  const hits = new Map<number, [number, number]>();
  for (const i of idx) {
    const h = hits.get(o.label[i]!) ?? [0, 0];
    h[0] += o.correct1[i]!;
    h[1] += 1;
    hits.set(o.label[i]!, h);
  }
  let s = 0;
  for (const [k, n] of hits.values()) s += k / n;
  return hits.size > 0 ? s / hits.size : 0;
}

/** One group's figures from the run indices of its images. */
export function groupStats(value: string, idx: number[], o: ImageOutcomes, minSize: number): SliceGroup {
  let k1 = 0;
  let k5 = 0;
  for (const i of idx) {
    k1 += o.correct1[i]!;
    k5 += o.correct5[i]!;
  }
  const n = idx.length;
  return {
    value,
    n,
    acc1: n ? k1 / n : 0,
    acc1_ci95: wilson(k1, n),
    acc5: n ? k5 / n : 0,
    acc5_ci95: wilson(k5, n),
    mean_per_class_recall: meanPerClassRecall(idx, o),
    ece: n ? eceOf(idx, o) : 0,
    small: n < minSize,
    indices: idx,
  };
}

/**
 * Slices of one attribute. `values[i]` are the groups image i belongs to (several for a list cell,
 * none when the metadata has no value for it); groups come out in first-seen order unless `order`.
 */
export function sliceBy(
  attribute: string,
  values: (readonly string[])[],
  o: ImageOutcomes,
  opts: SliceOptions & { order?: string[] } = {},
): SliceSummary {
  const minSize = opts.minSize ?? MIN_GROUP_SIZE;
  const members = new Map<string, number[]>();
  for (const v of opts.order ?? []) members.set(v, []);
  values.forEach((vs, i) => {
    for (const v of new Set(vs)) {
      const list = members.get(v) ?? [];
      list.push(i);
      members.set(v, list);
    }
  });
  const groups = [...members].filter(([, idx]) => idx.length > 0).map(([v, idx]) => groupStats(v, idx, o, minSize));
  const eligible = groups.filter((g) => opts.includeSmall || !g.small);
  const summary: SliceSummary = {
    attribute,
    groups,
    worst: null,
    best: null,
    gap: null,
    gap_ci95: null,
    gap_p_value: null,
    gap_p_holm: null,
  };
  if (eligible.length < 2) return summary;
  // Ties for worst or best go to the group listed first.
  const worst = eligible.reduce((a, b) => (b.acc1 < a.acc1 ? b : a));
  const best = eligible.reduce((a, b) => (b.acc1 > a.acc1 ? b : a));
  const outcomesOf = (g: SliceGroup) => Uint8Array.from(g.indices, (i) => o.correct1[i]!);
  const outcomes = eligible.map(outcomesOf);
  const seed = opts.seed ?? SLICE_SEED;
  summary.worst = worst.value;
  summary.best = best.value;
  summary.gap = best.acc1 - worst.acc1;
  summary.gap_ci95 = bootstrapGapCi(outcomesOf(worst), outcomesOf(best), opts.bootstrapReps ?? BOOTSTRAP_REPS, seed);
  summary.gap_p_value = permutationGapP(outcomes, opts.permutationReps ?? PERMUTATION_REPS, seed);
  return summary;
}

/** One attribute's groups per run image (`values[i]`), in `order` when given (numeric bins). */
export interface SliceAttribute {
  name: string;
  values: (readonly string[])[];
  order?: string[];
}

/**
 * Everything the Slices view and the bench compute from a run: every attribute's summary (Holm-adjusted
 * across them) and, when asked, one two-attribute table. Plain data, so it crosses to a worker as is.
 */
export interface SlicesRequest {
  outcomes: ImageOutcomes;
  attributes: SliceAttribute[];
  minSize: number;
  includeSmall: boolean;
}

/** The summaries of a request, attribute by attribute (the same figures as `sliceBy` + `adjustAcross`). */
export function summarizeSlices(req: SlicesRequest): SliceSummary[] {
  return adjustAcross(req.attributes.map((a) => summarizeAttribute(req, a)));
}

/** One attribute's summary under the request's sizes (before Holm). */
export function summarizeAttribute(req: SlicesRequest, a: SliceAttribute): SliceSummary {
  return sliceBy(a.name, a.values, req.outcomes, {
    minSize: req.minSize,
    includeSmall: req.includeSmall,
    order: a.order,
  });
}

/** Holm-adjust the gap p-values of attributes analysed together (those without a gap are skipped). */
export function adjustAcross(summaries: SliceSummary[]): SliceSummary[] {
  const tested = summaries.filter((s) => s.gap_p_value !== null);
  const adj = holm(tested.map((s) => s.gap_p_value!));
  return summaries.map((s) => {
    const k = tested.indexOf(s);
    return { ...s, gap_p_holm: k >= 0 ? adj[k]! : null };
  });
}

export interface CrossCell {
  row: string;
  col: string;
  n: number;
  acc1: number;
  acc1_ci95: [number, number];
  indices: number[];
}

/** Top-1 accuracy per (row value, column value) pair: the two-attribute heatmap. */
export function crossTable(
  rows: (readonly string[])[],
  cols: (readonly string[])[],
  o: ImageOutcomes,
): { rows: string[]; cols: string[]; cells: CrossCell[] } {
  const cells = new Map<string, CrossCell>();
  const rowSet = new Set<string>();
  const colSet = new Set<string>();
  rows.forEach((rs, i) => {
    for (const r of new Set(rs)) {
      for (const c of new Set(cols[i] ?? [])) {
        rowSet.add(r);
        colSet.add(c);
        const key = JSON.stringify([r, c]);
        const cell = cells.get(key) ?? { row: r, col: c, n: 0, acc1: 0, acc1_ci95: [0, 1], indices: [] };
        cell.indices.push(i);
        cells.set(key, cell);
      }
    }
  });
  for (const cell of cells.values()) {
    let k = 0;
    for (const i of cell.indices) k += o.correct1[i]!;
    cell.n = cell.indices.length;
    cell.acc1 = k / cell.n;
    cell.acc1_ci95 = wilson(k, cell.n);
  }
  return { rows: [...rowSet], cols: [...colSet], cells: [...cells.values()] };
}

const r6 = (x: number) => Number(x.toFixed(6));
const r6pair = (p: [number, number] | null) => (p ? ([r6(p[0]), r6(p[1])] as [number, number]) : null);

/**
 * The bench's `slices` entry of one attribute: `{ groups: [{ value, n, acc1, acc1_ci95, acc5 }], worst,
 * best, gap, gap_ci95, gap_p_value }`, rates rounded to 6 digits. The UI's JSON export adds the rest.
 */
export function sliceJson(s: SliceSummary): Record<string, unknown> {
  return {
    groups: s.groups.map((g) => ({
      value: g.value,
      n: g.n,
      acc1: r6(g.acc1),
      acc1_ci95: r6pair(g.acc1_ci95),
      acc5: r6(g.acc5),
    })),
    worst: s.worst,
    best: s.best,
    gap: s.gap === null ? null : r6(s.gap),
    gap_ci95: r6pair(s.gap_ci95),
    gap_p_value: s.gap_p_value === null ? null : r6(s.gap_p_value),
  };
}

/** Everything per group, for the per-slice export (JSON and CSV rows). */
export function sliceRows(s: SliceSummary): Record<string, string | number | boolean>[] {
  return s.groups.map((g) => ({
    attribute: s.attribute,
    value: g.value,
    n: g.n,
    acc1: r6(g.acc1),
    acc1_lo: r6(g.acc1_ci95[0]),
    acc1_hi: r6(g.acc1_ci95[1]),
    acc5: r6(g.acc5),
    acc5_lo: r6(g.acc5_ci95[0]),
    acc5_hi: r6(g.acc5_ci95[1]),
    mean_per_class_recall: r6(g.mean_per_class_recall),
    ece: r6(g.ece),
    below_min_size: g.small,
  }));
}

const short = (x: number) => String(Number(x.toPrecision(4)));

/**
 * Group labels of a numeric attribute binned at ascending inner `cuts`: `[lo, hi)` per bin (the last
 * closed), lo/hi being the neighbouring cuts or the data's min and max. NaN values get no group.
 */
export function binnedValues(values: ArrayLike<number>, cuts: number[]): { values: string[][]; order: string[] } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const edges = [...new Set(cuts)].sort((a, b) => a - b).filter((c) => c > min && c <= max);
  const order = Array.from({ length: edges.length + 1 }, (_, b) => {
    const lo = b === 0 ? min : edges[b - 1]!;
    const hi = b === edges.length ? max : edges[b]!;
    return b === edges.length ? `[${short(lo)}, ${short(hi)}]` : `[${short(lo)}, ${short(hi)})`;
  });
  const out: string[][] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out.push(Number.isNaN(v) ? [] : [order[binOf(v, edges)]!]);
  }
  return { values: out, order };
}

export interface RecallSlice {
  value: string;
  images: number;
  captions: number;
  /** Text→image Recall@K over the group's images' captions; image→text over its images. */
  t2i: Record<`R@${number}`, number>;
  i2t: Record<`R@${number}`, number>;
}

/**
 * Retrieval Recall@K by slice: `values[i]` are the groups of evaluated image i, `captionImage[k]` the
 * image of caption k; ranks are 1-based (rank of the first correct item), as the retrieval metrics use.
 */
export function recallBySlice(
  values: (readonly string[])[],
  captionImage: ArrayLike<number>,
  textRanks: ArrayLike<number>,
  imageRanks: ArrayLike<number>,
  ks: readonly number[] = [1, 5, 10],
  order?: string[],
): RecallSlice[] {
  const groups = new Map<string, { images: number[]; captions: number[] }>();
  for (const v of order ?? []) groups.set(v, { images: [], captions: [] });
  const entry = (v: string) => {
    const g = groups.get(v) ?? { images: [], captions: [] };
    groups.set(v, g);
    return g;
  };
  values.forEach((vs, i) => new Set(vs).forEach((v) => entry(v).images.push(i)));
  for (let k = 0; k < captionImage.length; k++) {
    for (const v of new Set(values[captionImage[k]!] ?? [])) entry(v).captions.push(k);
  }
  const recall = (ranks: number[], k: number) =>
    ranks.length ? ranks.filter((r) => r > 0 && r <= k).length / ranks.length : 0;
  return [...groups]
    .filter(([, g]) => g.images.length > 0)
    .map(([value, g]) => {
      const tr = g.captions.map((k) => textRanks[k]!);
      const ir = g.images.map((i) => imageRanks[i]!).filter((r) => r > 0);
      return {
        value,
        images: g.images.length,
        captions: g.captions.length,
        t2i: Object.fromEntries(ks.map((k) => [`R@${k}`, recall(tr, k)])),
        i2t: Object.fromEntries(ks.map((k) => [`R@${k}`, recall(ir, k)])),
      };
    });
}
