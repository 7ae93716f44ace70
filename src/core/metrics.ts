/**
 * Zero-shot classification metrics with CLIP_benchmark's definitions: top-1 and top-5 accuracy over
 * images, mean per-class recall (= sklearn's balanced accuracy: the mean recall over classes that
 * have images), per-class precision/recall/F1/support, the confusion matrix (rows true, columns
 * predicted), and expected calibration error over 15 equal-width confidence bins.
 *
 * Scores are cosine similarities of unit embeddings; probabilities follow the model family's scoring:
 * softmax(logit_scale × cosine) over the labels (CLIP), or sigmoid(logit_scale × cosine + logit_bias) per
 * label (SigLIP; these need not sum to 1, and the top-1 probability is that label's own sigmoid).
 * Ranks never depend on the scalars. Ties go to the lower class index (as argmax does).
 */
import { normalizeRows } from './vector';

/** How cosines become probabilities; a null scale (or a sigmoid without bias) means "not known". */
export interface ScoreParams {
  kind: 'softmax' | 'sigmoid';
  scale: number | null;
  bias: number | null;
}

export const ECE_BINS = 15;
export const TOP_K = 5;

export interface ClassStats {
  support: number;
  predicted: number;
  correct: number;
  recall: number;
  precision: number;
  f1: number;
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean of correct (0/1) in the bin; NaN when empty. */
  accuracy: number;
  /** Mean confidence (top-1 probability) in the bin; NaN when empty. */
  confidence: number;
}

export interface Predictions {
  /** Per image, the top-k class indices by score (k = min(5, C)), n×k. */
  topk: Int32Array;
  /** Their probabilities, n×k; NaN when the scoring scalars are not known. */
  topkProb: Float32Array;
  k: number;
}

export interface ClassificationMetrics {
  n: number;
  numClasses: number;
  acc1: number;
  /** null when there are fewer than 5 classes (top-5 would be trivially 1). */
  acc5: number | null;
  meanPerClassRecall: number;
  /** NaN when probabilities are not available (SigLIP without its scale and bias). */
  ece: number;
  reliability: ReliabilityBin[];
  perClass: ClassStats[];
  /** C×C counts, row = true class, column = predicted class. */
  confusion: Uint32Array;
}

/** Indices of the k largest values of `row` (descending; ties to the lower index). */
export function topK(row: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let c = 0; c < row.length; c++) {
    const v = row[c] as number;
    if (best.length === k && v <= (row[best[k - 1] as number] as number)) continue;
    let pos = best.length < k ? best.length : k - 1;
    while (pos > 0 && v > (row[best[pos - 1] as number] as number)) pos--;
    best.splice(pos, 0, c);
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * Probabilities of every label for one image's cosines: softmax over the labels or a sigmoid per label;
 * NaN for each when the scalars are unknown.
 */
export function labelProbabilities(sims: ArrayLike<number>, p: ScoreParams): Float64Array {
  const out = new Float64Array(sims.length);
  if (!scoresHaveProbabilities(p)) return out.fill(NaN);
  const scale = p.scale as number;
  if (p.kind === 'sigmoid') {
    for (let c = 0; c < sims.length; c++)
      out[c] = 1 / (1 + Math.exp(-((sims[c] as number) * scale + (p.bias as number))));
    return out;
  }
  let max = -Infinity;
  for (let c = 0; c < sims.length; c++) max = Math.max(max, (sims[c] as number) * scale);
  let sum = 0;
  for (let c = 0; c < sims.length; c++) sum += out[c] = Math.exp((sims[c] as number) * scale - max);
  for (let c = 0; c < sims.length; c++) out[c]! /= sum;
  return out;
}

/** Probabilities are available for these scoring parameters. */
export function scoresHaveProbabilities(p: ScoreParams): boolean {
  return p.scale !== null && (p.kind === 'softmax' || p.bias !== null);
}

/**
 * Top-k indices and probabilities per image from an n×C cosine matrix. A plain number is a softmax
 * logit scale (CLIP).
 */
export function predict(sims: Float32Array, numClasses: number, scoring: number | ScoreParams): Predictions {
  const p: ScoreParams = typeof scoring === 'number' ? { kind: 'softmax', scale: scoring, bias: null } : scoring;
  const n = sims.length / numClasses;
  const k = Math.min(TOP_K, numClasses);
  const topk = new Int32Array(n * k);
  const topkProb = new Float32Array(n * k);
  const known = scoresHaveProbabilities(p);
  const scale = p.scale ?? 1;
  const bias = p.bias ?? 0;
  for (let i = 0; i < n; i++) {
    const row = sims.subarray(i * numClasses, (i + 1) * numClasses);
    const idx = topK(row, k);
    let max = 0;
    let sum = 1;
    if (known && p.kind === 'softmax') {
      max = (row[idx[0] as number] as number) * scale;
      sum = 0;
      for (let c = 0; c < numClasses; c++) sum += Math.exp((row[c] as number) * scale - max);
    }
    idx.forEach((c, j) => {
      topk[i * k + j] = c;
      const z = (row[c] as number) * scale;
      topkProb[i * k + j] = !known
        ? NaN
        : p.kind === 'softmax'
          ? Math.exp(z - max) / sum
          : 1 / (1 + Math.exp(-(z + bias)));
    });
  }
  return { topk, topkProb, k };
}

export function computeMetrics(pred: Predictions, labels: Int32Array, numClasses: number): ClassificationMetrics {
  const n = labels.length;
  const { topk, topkProb, k } = pred;
  const confusion = new Uint32Array(numClasses * numClasses);
  let hit1 = 0;
  let hit5 = 0;
  const bins = Array.from({ length: ECE_BINS }, () => ({ count: 0, correct: 0, conf: 0 }));
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number;
    const p = topk[i * k] as number;
    confusion[y * numClasses + p]! += 1;
    const correct = p === y ? 1 : 0;
    hit1 += correct;
    for (let j = 0; j < k; j++) if (topk[i * k + j] === y) hit5 += 1;
    const conf = topkProb[i * k] as number;
    if (Number.isNaN(conf)) continue; // no probabilities: no calibration
    // Bin b holds confidences in (b/15, (b+1)/15]; a confidence of exactly 0 cannot occur.
    const b = Math.min(ECE_BINS - 1, Math.max(0, Math.ceil(conf * ECE_BINS) - 1));
    const bin = bins[b]!;
    bin.count += 1;
    bin.correct += correct;
    bin.conf += conf;
  }
  const perClass: ClassStats[] = [];
  let recallSum = 0;
  let present = 0;
  for (let c = 0; c < numClasses; c++) {
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < numClasses; j++) {
      support += confusion[c * numClasses + j] as number;
      predicted += confusion[j * numClasses + c] as number;
    }
    const correct = confusion[c * numClasses + c] as number;
    const recall = support > 0 ? correct / support : 0;
    const precision = predicted > 0 ? correct / predicted : 0;
    const f1 = recall + precision > 0 ? (2 * recall * precision) / (recall + precision) : 0;
    perClass.push({ support, predicted, correct, recall, precision, f1 });
    if (support > 0) {
      recallSum += recall;
      present += 1;
    }
  }
  const binned = bins.reduce((a, b) => a + b.count, 0);
  let ece = binned === n ? 0 : NaN;
  const reliability = bins.map((b, i) => {
    const accuracy = b.count > 0 ? b.correct / b.count : NaN;
    const confidence = b.count > 0 ? b.conf / b.count : NaN;
    if (b.count > 0) ece += (b.count / n) * Math.abs(accuracy - confidence);
    return { lo: i / ECE_BINS, hi: (i + 1) / ECE_BINS, count: b.count, accuracy, confidence };
  });
  return {
    n,
    numClasses,
    acc1: n > 0 ? hit1 / n : 0,
    acc5: numClasses >= TOP_K ? (n > 0 ? hit5 / n : 0) : null,
    meanPerClassRecall: present > 0 ? recallSum / present : 0,
    ece,
    reliability,
    perClass,
    confusion,
  };
}

/**
 * Labels credited under "any of" scoring (an image that accepts several classes, from a metadata list
 * of acceptable labels): the first of its top-k predictions that it accepts, else its own label. Top-1
 * and top-5 accuracy, per-class recall and the confusion matrix over these labels are the "any of"
 * figures: a prediction of any acceptable class is right. `accepted[i]` null (or absent) keeps label i.
 */
export function creditedLabels(
  pred: Predictions,
  labels: Int32Array,
  accepted: readonly (readonly number[] | null)[],
): Int32Array {
  const out = Int32Array.from(labels);
  const { k, topk } = pred;
  for (let i = 0; i < labels.length; i++) {
    const acc = accepted[i];
    if (!acc || acc.length < 2) continue;
    for (let j = 0; j < k; j++) {
      const c = topk[i * k + j]!;
      if (acc.includes(c)) {
        out[i] = c;
        break;
      }
    }
  }
  return out;
}

/**
 * Class embeddings of a prompt ensemble: for each class, the mean of its T unit prompt embeddings,
 * renormalised. `prompts` is (C·T)×dim, class-major (row = class × T + template).
 */
export function ensembleClassEmbeddings(
  prompts: Float32Array,
  numClasses: number,
  t: number,
  dim: number,
): Float32Array {
  const out = new Float32Array(numClasses * dim);
  for (let c = 0; c < numClasses; c++) {
    for (let j = 0; j < t; j++) {
      const off = (c * t + j) * dim;
      for (let d = 0; d < dim; d++) out[c * dim + d]! += prompts[off + d] as number;
    }
  }
  return normalizeRows(out, dim);
}

/** Top-1 accuracy of each template alone (class embedding = that template's prompt). */
export function perTemplateAccuracy(
  images: Float32Array,
  labels: Int32Array,
  prompts: Float32Array,
  numClasses: number,
  t: number,
  dim: number,
  /** Per image, every acceptable class when it has several (see `creditedLabels`); else its label. */
  accepted?: readonly (readonly number[] | null)[],
): number[] {
  const n = labels.length;
  const hits = new Array<number>(t).fill(0);
  for (let i = 0; i < n; i++) {
    const acc = accepted?.[i];
    const img = images.subarray(i * dim, (i + 1) * dim);
    for (let j = 0; j < t; j++) {
      let best = -Infinity;
      let arg = 0;
      for (let c = 0; c < numClasses; c++) {
        const off = (c * t + j) * dim;
        let s = 0;
        for (let d = 0; d < dim; d++) s += (img[d] as number) * (prompts[off + d] as number);
        if (s > best) {
          best = s;
          arg = c;
        }
      }
      if (acc ? acc.includes(arg) : arg === labels[i]) hits[j]! += 1;
    }
  }
  return hits.map((h) => (n > 0 ? h / n : 0));
}
