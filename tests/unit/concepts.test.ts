/**
 * Concept-wise retrieval: the nouns of captions (compromise's tags, lower-cased singular lemmas)
 * against nouns listed by hand, the 10-image threshold, per-concept Recall@K counted by hand, and the
 * 7 log-frequency bins.
 */
import { describe, expect, test } from 'vitest';
import { captionNouns, conceptFrequency, conceptRecall, extractConcepts } from '../../src/core/concepts';

describe('caption nouns', () => {
  // Nouns read off each caption by hand (plural → singular, irregular plurals, no pronouns).
  const HAND: [string, string[]][] = [
    ['Two dogs are playing with frisbees in the park.', ['dog', 'frisbee', 'park']],
    ['The children eat pizzas near the buses.', ['child', 'pizza', 'bus']],
    ['A woman holds an umbrella on a rainy street.', ['woman', 'umbrella', 'street']],
    ['Three Giraffes stand beside a tree at the zoo.', ['giraffe', 'tree', 'zoo']],
    ['He puts the laptop on his desk next to a cup of coffee.', ['laptop', 'desk', 'cup', 'coffee']],
    ['A dog and another dog.', ['dog']],
    // Participles after their subject are verbs, though compromise tags them as nouns; a building stays;
    // "people" has the lemma "person".
    [
      'A man riding a wave and people sitting at a table near a building in the city.',
      ['man', 'wave', 'person', 'table', 'building', 'city'],
    ],
  ];
  test.each(HAND)('%s', (caption, nouns) => expect(captionNouns(caption)).toEqual(nouns));
});

describe('concepts and their Recall@K', () => {
  // 12 images: "dog" in captions of images 0..11 (12 images), "cat" in images 0..8 (9 < 10, dropped).
  const captions = Array.from({ length: 12 }, (_, i) => ({
    caption: i < 9 ? `A dog sleeps next to a cat.` : `A dog on the grass.`,
    image: i,
  }));
  captions.push({ caption: 'Dogs everywhere.', image: 0 });
  test('concepts in fewer than 10 images are dropped', () => {
    const c = extractConcepts(captions);
    expect(c.map((x) => x.concept)).toEqual(['dog']);
    expect(c[0]!.images).toEqual([...Array(12).keys()]);
    expect(c[0]!.captions.length).toBe(13);
    expect(extractConcepts(captions, 9).map((x) => x.concept)).toEqual(['dog', 'cat']);
  });
  test('per-concept Recall@K from caption and image ranks', () => {
    const concepts = extractConcepts(captions, 9);
    // Caption ranks: 1 for captions 0..3, 5 for 4..7, 20 for the rest (8..12).
    const captionRanks = captions.map((_, k) => (k < 4 ? 1 : k < 8 ? 5 : 20));
    const imageRanks = Array.from({ length: 12 }, (_, i) => (i % 2 ? 1 : 11));
    const [dog, cat] = conceptRecall(concepts, captionRanks, imageRanks);
    // dog: 13 captions, 4 at rank 1, 8 at rank ≤ 5, 8 at rank ≤ 10; images: 6 of 12 at rank 1.
    expect(dog!.t2i).toEqual({ 'R@1': 4 / 13, 'R@5': 8 / 13, 'R@10': 8 / 13 });
    expect(dog!.i2t).toEqual({ 'R@1': 0.5, 'R@5': 0.5, 'R@10': 0.5 });
    // cat: captions 0..8 → 4 at 1, 4 at 5, 1 at 20.
    expect(cat!.t2i['R@5']).toBe(8 / 9);
    expect([cat!.images, cat!.captions]).toEqual([9, 9]);
  });
});

describe('joined with concept frequency in 7 log bins', () => {
  test('equal widths in log10(count), mean ± std per bin; names match as lemmas', () => {
    // log10 counts 0..7 → width 1; 10^7 falls in the last bin with 10^6.
    const recalls = [0, 1, 2, 3, 4, 5, 6, 7].map((e) => ({
      concept: `c${e}`,
      images: 10,
      captions: 10,
      t2i: { 'R@1': 0, 'R@5': e / 10, 'R@10': 1 },
      i2t: { 'R@1': 0, 'R@5': 0, 'R@10': 0 },
    }));
    recalls.push({ ...recalls[0]!, concept: 'buses' });
    recalls.push({ ...recalls[0]!, concept: 'unknown' });
    const counts = Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((e) => [`C${e}`, 10 ** e]));
    counts.bus = 1;
    const j = conceptFrequency(recalls, counts);
    expect(j.unmatched).toEqual(['unknown']);
    expect(j.points.find((p) => p.concept === 'buses')!.count).toBe(1);
    expect(j.bins.length).toBe(7);
    expect(j.bins.map((b) => b.n)).toEqual([2, 1, 1, 1, 1, 1, 2]);
    expect(j.bins[6]!.mean).toBeCloseTo(0.65, 12);
    expect(j.bins[6]!.std).toBeCloseTo(0.05, 12);
    expect(j.bins[0]!.mean).toBe(0);
  });
});
