/**
 * Concept-wise retrieval: the concepts of a captioned set are the nouns of its captions (compromise's
 * part-of-speech tags, each noun as its lower-cased singular lemma: "dogs" → "dog", "children" →
 * "child"); concepts found in fewer than `MIN_CONCEPT_IMAGES` images are dropped, as the paper does.
 * Per concept, text→image Recall@K over the captions that name it and image→text Recall@K over the
 * images whose captions name it; and the concepts joined with pretraining counts in 7 log bins.
 */
import nlp from 'compromise';
import { conceptKey, logBins, type LogBin } from './frequency';

export const MIN_CONCEPT_IMAGES = 10;
export const CONCEPT_KS = [1, 5, 10] as const;
export const FREQUENCY_BINS = 7;

/** The distinct noun lemmas of one caption, lower-cased, in order of appearance. */
export function captionNouns(caption: string): string[] {
  // Lower-cased first: a capital mid-sentence ("Three Giraffes") would tag as a proper noun.
  const doc = nlp(caption.toLowerCase());
  doc.compute('root');
  type Term = { normal: string; root?: string; tags: string[] };
  // `root` (the lemma compute('root') adds) is missing from compromise's option types; a variable skips the literal check.
  const options = { terms: { normal: true, root: true } };
  const sentences = doc.json(options) as { terms: Term[] }[];
  const terms = sentences.flatMap((s) => s.terms);
  const is = (t: Term | undefined, tag: string) => !!t?.tags.includes(tag);
  const out: string[] = [];
  terms.forEach((t, i) => {
    if (!is(t, 'Noun') || is(t, 'Pronoun')) return;
    // compromise tags a participle after its subject as a noun ("a man riding a wave", "people
    // sitting at a table"); "a building in the city" keeps its noun.
    const prev = terms[i - 1];
    const next = terms[i + 1];
    if (/ing$/.test(t.normal) && is(prev, 'Noun') && (is(next, 'Determiner') || is(next, 'Preposition'))) return;
    const lemma = (t.root || t.normal)
      .toLowerCase()
      .replace(/[^a-z0-9' -]/g, '')
      .trim();
    if (lemma.length > 1 && !/^\d+$/.test(lemma) && !out.includes(lemma)) out.push(lemma);
  });
  return out;
}

export interface Concept {
  concept: string;
  /** Caption indices that name it. */
  captions: number[];
  /** Image rows whose captions name it (distinct). */
  images: number[];
}

/** Concepts of a caption set (those in at least `minImages` images), most images first, then by name. */
export function extractConcepts(
  captions: { caption: string; image: number }[],
  minImages = MIN_CONCEPT_IMAGES,
  /** Each caption's nouns when already tagged (`captionNouns`), else tagged here. */
  nouns?: string[][],
): Concept[] {
  const byConcept = new Map<string, { captions: number[]; images: Set<number> }>();
  captions.forEach((c, k) => {
    for (const noun of nouns?.[k] ?? captionNouns(c.caption)) {
      const e = byConcept.get(noun) ?? { captions: [], images: new Set<number>() };
      e.captions.push(k);
      e.images.add(c.image);
      byConcept.set(noun, e);
    }
  });
  return [...byConcept]
    .filter(([, e]) => e.images.size >= minImages)
    .map(([concept, e]) => ({ concept, captions: e.captions, images: [...e.images].sort((a, b) => a - b) }))
    .sort((a, b) => b.images.length - a.images.length || (a.concept < b.concept ? -1 : 1));
}

export interface ConceptRecall {
  concept: string;
  images: number;
  captions: number;
  /** Text→image Recall@K over the captions naming the concept, K = 1, 5, 10. */
  t2i: Record<`R@${number}`, number>;
  /** Image→text Recall@K over the images whose captions name it. */
  i2t: Record<`R@${number}`, number>;
}

function recallAt(ranks: number[], k: number): number {
  return ranks.length ? ranks.filter((r) => r <= k).length / ranks.length : 0;
}

/**
 * Per-concept Recall@K from the run's ranks (1-based rank of the first correct item per caption and
 * per image, as the retrieval metrics compute them).
 */
export function conceptRecall(
  concepts: Concept[],
  captionRanks: ArrayLike<number>,
  imageRanks: ArrayLike<number>,
): ConceptRecall[] {
  return concepts.map((c) => {
    const cr = c.captions.map((k) => captionRanks[k]!);
    const ir = c.images.map((i) => imageRanks[i]!);
    return {
      concept: c.concept,
      images: c.images.length,
      captions: c.captions.length,
      t2i: Object.fromEntries(CONCEPT_KS.map((k) => [`R@${k}`, recallAt(cr, k)])),
      i2t: Object.fromEntries(CONCEPT_KS.map((k) => [`R@${k}`, recallAt(ir, k)])),
    };
  });
}

/**
 * Concepts joined with pretraining counts (`{concept: count}`, as the Concept frequency view imports
 * them; names compared as lemma sequences), and the paper's binned view of their Recall@K: 7
 * equal-width bins of log10(count), mean ± std per bin (the frequency view's `logBins`).
 */
export function conceptFrequency(
  recalls: ConceptRecall[],
  counts: Record<string, number>,
  direction: 't2i' | 'i2t' = 't2i',
  k: (typeof CONCEPT_KS)[number] = 5,
): { points: { concept: string; count: number; accuracy: number }[]; unmatched: string[]; bins: LogBin[] } {
  const byKey = new Map(Object.entries(counts).map(([name, n]) => [conceptKey(name), n]));
  const points: { concept: string; count: number; accuracy: number }[] = [];
  const unmatched: string[] = [];
  for (const r of recalls) {
    const n = byKey.get(conceptKey(r.concept));
    if (n === undefined) unmatched.push(r.concept);
    else points.push({ concept: r.concept, count: n, accuracy: r[direction][`R@${k}`]! });
  }
  return { points, unmatched, bins: logBins(points, FREQUENCY_BINS) };
}
