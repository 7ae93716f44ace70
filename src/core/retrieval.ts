/**
 * Text↔image retrieval metrics as CLIP_benchmark defines them, with a rank that does not depend on
 * sort order (ties are common with weak models: identical captions give identical embeddings):
 *
 *   rank of a query's first correct item = 1 + the number of candidates whose similarity is strictly
 *   greater than the best-scoring correct item's;  Recall@K = share of queries with rank ≤ K.
 *
 * Text→image: one query per caption, its image is the one correct item. Image→text: one query per
 * image, every caption of that image is correct. Similarities are computed block by block, so the
 * caption×image matrix is never held whole (50,000 × 10,000 would be 2 GB).
 */

/** Captions scored per block: block × images floats at a time. */
const BLOCK_CAPTIONS = 256;
/** Retrieved items kept per query for the failure browser. */
export const TOP_RETRIEVED = 5;
export const RECALL_KS = [1, 5, 10] as const;

export interface RetrievalInput {
  /** n×dim unit image embeddings. */
  images: Float32Array;
  /** q×dim unit caption embeddings. */
  captions: Float32Array;
  /** Image row of each caption (length q). */
  captionImage: Int32Array;
  dim: number;
}

export interface DirectionMetrics {
  recall: Record<(typeof RECALL_KS)[number], number>;
  meanRank: number;
  medianRank: number;
}

export interface RetrievalResult {
  /** Per caption (length q): rank of its image among all images. */
  textRanks: Int32Array;
  /** Per image (length n): rank of its first correct caption among all captions; 0 for an image without captions. */
  imageRanks: Int32Array;
  /** q×TOP_RETRIEVED image rows retrieved for each caption, best first. */
  textTop: Int32Array;
  /** n×TOP_RETRIEVED caption rows retrieved for each image, best first. */
  imageTop: Int32Array;
  textToImage: DirectionMetrics;
  imageToText: DirectionMetrics;
}

/** Median as numpy computes it (mean of the two middle values for an even count). */
export function median(values: ArrayLike<number>): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Recall@1/5/10, mean and median rank over the ranks of the queries that have a correct item. */
export function summarize(ranks: ArrayLike<number>): DirectionMetrics {
  const valid = Array.from(ranks).filter((r) => r > 0);
  const n = valid.length;
  const recall = Object.fromEntries(RECALL_KS.map((k) => [k, n ? valid.filter((r) => r <= k).length / n : NaN]));
  return {
    recall: recall as DirectionMetrics['recall'],
    meanRank: n ? valid.reduce((a, b) => a + b, 0) / n : NaN,
    medianRank: median(valid),
  };
}

/**
 * Keeps the `k` best (score, id) pairs seen, best first; among equal scores the lower id wins, so the
 * lists are deterministic.
 */
class TopK {
  readonly ids: Int32Array;
  readonly scores: Float32Array;
  size = 0;
  constructor(readonly k: number) {
    this.ids = new Int32Array(k);
    this.scores = new Float32Array(k);
  }
  push(score: number, id: number): void {
    const k = this.k;
    if (this.size === k && !(score > (this.scores[k - 1] as number))) return;
    let i = this.size < k ? this.size++ : k - 1;
    while (i > 0 && score > (this.scores[i - 1] as number)) {
      this.scores[i] = this.scores[i - 1] as number;
      this.ids[i] = this.ids[i - 1] as number;
      i--;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += (a[ao + j] as number) * (b[bo + j] as number);
  return s;
}

/** Ranks, top retrieved items and metrics in both directions. `onBlock` reports captions done. */
export function retrievalMetrics(
  input: RetrievalInput,
  onBlock?: (done: number, total: number) => void,
): RetrievalResult {
  const { images, captions, captionImage, dim } = input;
  const n = images.length / dim;
  const q = captions.length / dim;
  // Best similarity of each image to one of its own captions: the score the other captions must beat.
  const best = new Float32Array(n).fill(-Infinity);
  for (let c = 0; c < q; c++) {
    const i = captionImage[c] as number;
    best[i] = Math.max(best[i] as number, dot(images, i * dim, captions, c * dim, dim));
  }
  const above = new Int32Array(n);
  const textRanks = new Int32Array(q);
  const textTop = new Int32Array(q * TOP_RETRIEVED).fill(-1);
  const imageTops = Array.from({ length: n }, () => new TopK(TOP_RETRIEVED));
  const row = new Float32Array(n);
  for (let c0 = 0; c0 < q; c0 += BLOCK_CAPTIONS) {
    const c1 = Math.min(q, c0 + BLOCK_CAPTIONS);
    for (let c = c0; c < c1; c++) {
      for (let i = 0; i < n; i++) row[i] = dot(captions, c * dim, images, i * dim, dim);
      const own = row[captionImage[c] as number] as number;
      const top = new TopK(TOP_RETRIEVED);
      let greater = 0;
      for (let i = 0; i < n; i++) {
        const s = row[i] as number;
        if (s > own) greater++;
        top.push(s, i);
        if (s > (best[i] as number)) above[i]!++;
        imageTops[i]!.push(s, c);
      }
      textRanks[c] = greater + 1;
      textTop.set(top.ids.subarray(0, top.size), c * TOP_RETRIEVED);
    }
    onBlock?.(c1, q);
  }
  const imageRanks = new Int32Array(n);
  const imageTop = new Int32Array(n * TOP_RETRIEVED).fill(-1);
  for (let i = 0; i < n; i++) {
    imageRanks[i] = best[i] === -Infinity ? 0 : (above[i] as number) + 1;
    imageTop.set(imageTops[i]!.ids.subarray(0, imageTops[i]!.size), i * TOP_RETRIEVED);
  }
  return {
    textRanks,
    imageRanks,
    textTop,
    imageTop,
    textToImage: summarize(textRanks),
    imageToText: summarize(imageRanks),
  };
}

/** The `k` rows of `gallery` (n×dim) most similar to `query` (dim), best first, with their cosines. */
export function topMatches(
  gallery: Float32Array,
  query: Float32Array,
  dim: number,
  k: number,
  exclude = -1,
): { ids: number[]; scores: number[] } {
  const n = gallery.length / dim;
  const top = new TopK(Math.max(1, Math.min(k, n)));
  for (let i = 0; i < n; i++) if (i !== exclude) top.push(dot(gallery, i * dim, query, 0, dim), i);
  return { ids: Array.from(top.ids.subarray(0, top.size)), scores: Array.from(top.scores.subarray(0, top.size)) };
}
