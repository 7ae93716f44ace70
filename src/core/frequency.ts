/**
 * Concept frequency against zero-shot accuracy, as in Udandarao et al. 2024 ("No 'Zero-Shot'
 * Without Exponential Data"): a least-squares fit of accuracy on log10(count), Pearson r with its
 * two-sided p-value, a 95% confidence band of the fitted mean, and the paper's binned view (equal-width
 * bins in log space, mean ± std per bin). Accuracies are fractions; the slope is in accuracy per decade.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import pluralize from 'pluralize';

export interface FrequencyPoint {
  /** Class folder (the key of the result). */
  key: string;
  /** Concept it was matched to. */
  concept: string;
  accuracy: number;
  count: number;
  /** Images of that class. */
  support: number;
}

/** One model's per-class points and fitted line, as a plot draws them. */
export interface FrequencySeries {
  label: string;
  color: string;
  points: FrequencyPoint[];
  fit: LogLinearFit | null;
}

export interface LogLinearFit {
  /** Points in the fit (count > 0). */
  n: number;
  /** Accuracy gained per 10× more data. */
  slope: number;
  intercept: number;
  pearsonR: number;
  /** Two-sided p-value of r under the null of no correlation (t-test, n − 2 degrees of freedom). */
  pValue: number;
  /** For the confidence band. */
  meanLog: number;
  sxx: number;
  residualStd: number;
  tCrit: number;
}

export const BAND_LEVEL = 0.95;

/** Least squares of accuracy on log10(count) over points with count > 0; null below 3 points. */
export function fitLogLinear(points: readonly { accuracy: number; count: number }[]): LogLinearFit | null {
  const pts = points.filter((p) => p.count > 0 && Number.isFinite(p.count) && Number.isFinite(p.accuracy));
  const n = pts.length;
  if (n < 3) return null;
  const xs = pts.map((p) => Math.log10(p.count));
  const ys = pts.map((p) => p.accuracy);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (sxx === 0) return null; // every concept has the same count: no slope to fit
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r = syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
  const df = n - 2;
  const rss = Math.max(0, syy - slope * sxy);
  const residualStd = df > 0 ? Math.sqrt(rss / df) : 0;
  let pValue: number;
  if (Math.abs(r) >= 1) pValue = 0;
  else {
    const t = (r * Math.sqrt(df)) / Math.sqrt(1 - r * r);
    pValue = 2 * (1 - tCdf(Math.abs(t), df));
  }
  return {
    n,
    slope,
    intercept,
    pearsonR: r,
    pValue,
    meanLog: mx,
    sxx,
    residualStd,
    tCrit: tQuantile(1 - (1 - BAND_LEVEL) / 2, df),
  };
}

/** Fitted accuracy and its 95% confidence interval (of the mean) at log10(count) = x. */
export function fitAt(fit: LogLinearFit, x: number): { y: number; lo: number; hi: number } {
  const y = fit.intercept + fit.slope * x;
  const half = fit.tCrit * fit.residualStd * Math.sqrt(1 / fit.n + (x - fit.meanLog) ** 2 / fit.sxx);
  return { y, lo: y - half, hi: y + half };
}

export interface LogBin {
  /** Edges in log10(count). */
  lo: number;
  hi: number;
  n: number;
  mean: number;
  /** Population standard deviation of the bin's accuracies (0 for one point). */
  std: number;
}

/** The paper's binned view: `bins` equal-width bins over the log10 counts' range; empty bins are kept (n = 0). */
export function logBins(points: readonly { accuracy: number; count: number }[], bins = 12): LogBin[] {
  const pts = points.filter((p) => p.count > 0);
  if (pts.length === 0) return [];
  const xs = pts.map((p) => Math.log10(p.count));
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const width = (max - min) / bins || 1;
  const out: LogBin[] = Array.from({ length: bins }, (_, i) => ({
    lo: min + i * width,
    hi: min + (i + 1) * width,
    n: 0,
    mean: 0,
    std: 0,
  }));
  const members: number[][] = out.map(() => []);
  pts.forEach((p, i) => members[Math.min(bins - 1, Math.floor((xs[i]! - min) / width))]!.push(p.accuracy));
  members.forEach((ys, i) => {
    if (ys.length === 0) return;
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const b = out[i]!;
    b.n = ys.length;
    b.mean = mean;
    b.std = Math.sqrt(ys.reduce((a, y) => a + (y - mean) ** 2, 0) / ys.length);
  });
  return out;
}

// ---- words, lemmas and concept matching ----

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;

/** Lowercased words of a text ("Hot-dog's" → ["hot", "dog's"]). */
export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

const lemmaMemo = new Map<string, string>();

/**
 * A word's singular form (pluralize's English rules and irregulars: "mice" → "mouse", "buses" →
 * "bus"), possessive "'s" dropped: the plural folding of the paper's "lemmatized" search.
 */
export function lemma(word: string): string {
  let l = lemmaMemo.get(word);
  if (l === undefined) {
    const base = word.replace(/['’]s$/, '');
    l = base.length <= 2 || /\d/.test(base) ? base : pluralize.singular(base);
    if (lemmaMemo.size > 500_000) lemmaMemo.clear();
    lemmaMemo.set(word, l);
  }
  return l;
}

/** A concept or class name as a sequence of lemmas ("Golden_Retrievers" → ["golden", "retriever"]). */
export function conceptLemmas(name: string): string[] {
  return words(name.replace(/_/g, ' ')).map(lemma);
}

/** The key under which names match: lemmas joined by spaces. */
export function conceptKey(name: string): string {
  return conceptLemmas(name).join(' ');
}

/**
 * Match classes to the concepts of a count table: by the class's prompt name, then its folder name,
 * compared as lemma sequences ("Persian" ~ "persian", "sea_lions" ~ "sea lion"). Unmatched classes get null.
 */
export function matchConcepts(
  classes: readonly { key: string; name: string }[],
  concepts: readonly string[],
): (string | null)[] {
  const byKey = new Map<string, string>();
  for (const c of concepts) {
    const k = conceptKey(c);
    if (k && !byKey.has(k)) byKey.set(k, c);
  }
  return classes.map((c) => byKey.get(conceptKey(c.name)) ?? byKey.get(conceptKey(c.key)) ?? null);
}

/**
 * Counts how many texts mention each concept at least once: case-insensitive, whole words, plural
 * folded, multi-word concepts as consecutive words. Feed texts with `add`, read `counts()`.
 */
export class ConceptCounter {
  private readonly seqs: string[][];
  /** First lemma → indices of the concepts starting with it. */
  private readonly byFirst = new Map<string, number[]>();
  private readonly tally: number[];
  private readonly seen: Int32Array;
  private text = 0;
  texts = 0;

  constructor(readonly concepts: readonly string[]) {
    this.seqs = concepts.map(conceptLemmas);
    this.seqs.forEach((seq, i) => {
      if (seq.length === 0) return;
      const list = this.byFirst.get(seq[0]!) ?? [];
      list.push(i);
      this.byFirst.set(seq[0]!, list);
    });
    this.tally = new Array<number>(concepts.length).fill(0);
    this.seen = new Int32Array(concepts.length).fill(-1);
  }

  add(text: string): void {
    const id = this.text++;
    this.texts += 1;
    const ws = words(text);
    if (ws.length === 0) return;
    const ls = ws.map(lemma);
    for (let i = 0; i < ls.length; i++) {
      const cands = this.byFirst.get(ls[i]!);
      if (!cands) continue;
      for (const c of cands) {
        if (this.seen[c] === id) continue;
        const seq = this.seqs[c]!;
        let ok = i + seq.length <= ls.length;
        for (let k = 1; ok && k < seq.length; k++) ok = ls[i + k] === seq[k];
        if (ok) {
          this.seen[c] = id;
          this.tally[c]! += 1;
        }
      }
    }
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.concepts.map((c, i) => [c, this.tally[i]!]));
  }
}

/**
 * Parse a `{concept: count}` JSON or a two-column CSV/TSV (`concept,count`, optional header) into
 * counts. Throws a message that names the file and the line when it cannot.
 */
export function parseCountTable(name: string, text: string): Record<string, number> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (e) {
      throw new Error(`${name} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`, { cause: e });
    }
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new Error(`${name}: the count of “${k}” is ${JSON.stringify(v)}, not a non-negative number.`);
      }
      out[k] = v;
    }
    if (Object.keys(out).length === 0) throw new Error(`${name} holds no concepts.`);
    return out;
  }
  const out: Record<string, number> = {};
  const lines = trimmed.split(/\r?\n/);
  const sep = lines[0]!.includes('\t') ? '\t' : ',';
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const cut = line.lastIndexOf(sep);
    const concept = line
      .slice(0, cut)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .replace(/""/g, '"');
    const count = Number(line.slice(cut + 1).trim());
    if (cut < 0 || !concept || !Number.isFinite(count) || count < 0) {
      if (i === 0) return; // a header line
      throw new Error(`${name}, line ${i + 1}: expected “concept${sep === '\t' ? '<tab>' : ','}count”, got “${line}”.`);
    }
    out[concept] = count;
  });
  if (Object.keys(out).length === 0) throw new Error(`${name} holds no concept,count rows.`);
  return out;
}
