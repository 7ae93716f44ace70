/**
 * Paired comparison of two retrieval runs on the same captioned folder. A query is a caption
 * (text→image) or an evaluated image (image→text); a model "gets" it when the rank of its first
 * correct item is ≤ K. Queries are paired by what they are, not by position: a caption by its image's
 * path, its text and its occurrence among identical (image, text) pairs; an image by its path. The
 * 2×2 table, McNemar's exact test and the bootstrap interval then come from `summarizeOutcomes`.
 */
import { summarizeOutcomes, type PairSummary } from './compare';
import { RECALL_KS } from './retrieval';
import type { RetrievalRun } from './retrieval-results';

export type RetrievalDirection = 'text_to_image' | 'image_to_text';
export type RecallK = (typeof RECALL_KS)[number];

/** One direction of two runs on their common queries, in A's order. */
export interface PairedQueries {
  direction: RetrievalDirection;
  k: RecallK;
  /** The query: a caption's text, or an image's path. */
  query: string[];
  /** The image the query is about (the caption's image, or the query image itself). */
  image: string[];
  rankA: Int32Array;
  rankB: Int32Array;
  /** 1 where the rank is ≤ K. */
  rightA: Uint8Array;
  rightB: Uint8Array;
}

interface Query {
  key: string;
  query: string;
  image: string;
  rank: number;
}

/** A run's queries in one direction, keyed for pairing; image→text leaves out images without captions. */
export function queriesOf(run: RetrievalRun, direction: RetrievalDirection): Query[] {
  const r = run.result;
  if (!r) return [];
  const imageOf = (k: number) => run.gallery[run.evalImages[k]!]!;
  if (direction === 'image_to_text')
    return run.evalImages.flatMap((_, k) => {
      const image = imageOf(k);
      return r.imageRanks[k]! > 0 ? [{ key: image, query: image, image, rank: r.imageRanks[k]! }] : [];
    });
  const seen = new Map<string, number>();
  return run.captions.map((c, q) => {
    const image = imageOf(c.image);
    const base = `${image}\u0000${c.caption}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { key: `${base}\u0000${n}`, query: c.caption, image, rank: r.textRanks[q]! };
  });
}

/** Two runs' ranks on their common queries in one direction, in A's order (queries only one run has are left out). */
export function pairRanks(
  a: RetrievalRun,
  b: RetrievalRun,
  direction: RetrievalDirection,
): Omit<PairedQueries, 'k' | 'rightA' | 'rightB'> {
  const inB = new Map(queriesOf(b, direction).map((q) => [q.key, q.rank]));
  const both = queriesOf(a, direction).filter((q) => inB.has(q.key));
  return {
    direction,
    query: both.map((q) => q.query),
    image: both.map((q) => q.image),
    rankA: Int32Array.from(both, (q) => q.rank),
    rankB: Int32Array.from(both, (q) => inB.get(q.key)!),
  };
}

/** The paired ranks read at K: 1 where the rank is ≤ K. */
export function atK(p: Omit<PairedQueries, 'k' | 'rightA' | 'rightB'>, k: RecallK): PairedQueries {
  return {
    ...p,
    k,
    rightA: Uint8Array.from(p.rankA, (r) => (r <= k ? 1 : 0)),
    rightB: Uint8Array.from(p.rankB, (r) => (r <= k ? 1 : 0)),
  };
}

/** Pair two runs' queries in one direction at K. */
export function pairRetrieval(
  a: RetrievalRun,
  b: RetrievalRun,
  direction: RetrievalDirection,
  k: RecallK,
): PairedQueries {
  return atK(pairRanks(a, b, direction), k);
}

/** Both directions at every K: what the comparison JSON holds for a pair of retrieval runs. */
export function summarizeRetrievalPair(
  labelA: string,
  labelB: string,
  a: RetrievalRun,
  b: RetrievalRun,
): Record<RetrievalDirection, Record<`R@${RecallK}`, PairSummary>> {
  const dir = (d: RetrievalDirection) => {
    const ranks = pairRanks(a, b, d);
    return Object.fromEntries(
      RECALL_KS.map((k) => {
        const p = atK(ranks, k);
        return [`R@${k}`, summarizeOutcomes(labelA, labelB, p.rightA, p.rightB)];
      }),
    ) as Record<`R@${RecallK}`, PairSummary>;
  };
  return { text_to_image: dir('text_to_image'), image_to_text: dir('image_to_text') };
}
