/**
 * Pairing two retrieval runs, against counts made by hand on small runs:
 * - captions pair by (image path, text, occurrence), not by position: B lists the images in another order
 *   and one image failed in B, so its captions (and the image itself) leave the pairing;
 * - two identical captions of one image stay two queries;
 * - image→text leaves out images without captions (rank 0);
 * - the 2×2 table at each K and McNemar's p equal the hand counts and `mcnemarExactP` on them.
 */
import { describe, expect, test } from 'vitest';
import { mcnemarExactP } from '../../src/core/compare';
import { pairRetrieval, queriesOf, summarizeRetrievalPair } from '../../src/core/compare-retrieval';
import { summarize } from '../../src/core/retrieval';
import type { RetrievalRun } from '../../src/core/retrieval-results';

/** A run with the given gallery, evaluated images, captions and ranks (the rest is not read by pairing). */
function run(
  gallery: string[],
  evalImages: number[],
  captions: { caption: string; image: number }[],
  textRanks: number[],
  imageRanks: number[],
): RetrievalRun {
  return {
    gallery,
    evalImages,
    captions,
    result: {
      textRanks: Int32Array.from(textRanks),
      imageRanks: Int32Array.from(imageRanks),
      textTop: new Int32Array(0),
      imageTop: new Int32Array(0),
      textToImage: summarize(textRanks),
      imageToText: summarize(imageRanks),
    },
  } as unknown as RetrievalRun;
}

// A: images a, b, c, d (d has no caption); b has the same caption twice.
const A = run(
  ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'],
  [0, 1, 2, 3],
  [
    { caption: 'a dog', image: 0 },
    { caption: 'a red car', image: 1 },
    { caption: 'a red car', image: 1 },
    { caption: 'a cat', image: 2 },
    { caption: 'two cats', image: 2 },
  ],
  [1, 3, 7, 12, 2],
  [2, 1, 6, 0],
);
// B: c failed to decode; the gallery is in another order; d has no caption.
const B = run(
  ['d.jpg', 'b.jpg', 'a.jpg'],
  [2, 1, 0],
  [
    { caption: 'a dog', image: 0 },
    { caption: 'a red car', image: 1 },
    { caption: 'a red car', image: 1 },
  ],
  [4, 1, 9],
  [3, 1, 0],
);

describe('pairing retrieval queries', () => {
  test('captions keyed by image, text and occurrence', () => {
    expect(queriesOf(A, 'text_to_image').map((q) => q.key.split('\u0000'))).toEqual([
      ['a.jpg', 'a dog', '0'],
      ['b.jpg', 'a red car', '0'],
      ['b.jpg', 'a red car', '1'],
      ['c.jpg', 'a cat', '0'],
      ['c.jpg', 'two cats', '0'],
    ]);
    expect(queriesOf(A, 'image_to_text').map((q) => q.image)).toEqual(['a.jpg', 'b.jpg', 'c.jpg']); // d: no caption
  });

  test('text→image: the three captions both runs have, in A’s order, with both ranks', () => {
    const p = pairRetrieval(A, B, 'text_to_image', 5);
    expect(p.query).toEqual(['a dog', 'a red car', 'a red car']);
    expect(p.image).toEqual(['a.jpg', 'b.jpg', 'b.jpg']);
    expect(Array.from(p.rankA)).toEqual([1, 3, 7]);
    expect(Array.from(p.rankB)).toEqual([4, 1, 9]);
    expect(Array.from(p.rightA)).toEqual([1, 1, 0]);
    expect(Array.from(p.rightB)).toEqual([1, 1, 0]);
    expect(Array.from(pairRetrieval(A, B, 'text_to_image', 1).rightB)).toEqual([0, 1, 0]);
  });

  test('image→text: images with captions in both runs', () => {
    const p = pairRetrieval(A, B, 'image_to_text', 1);
    expect(p.image).toEqual(['a.jpg', 'b.jpg']);
    expect(Array.from(p.rankA)).toEqual([2, 1]);
    expect(Array.from(p.rankB)).toEqual([3, 1]); // B's evalImages [2, 1, 0] are a, b, d; d has no caption
    expect(Array.from(p.rightA)).toEqual([0, 1]);
    expect(Array.from(p.rightB)).toEqual([0, 1]);
  });
});

describe('summaries per direction and K', () => {
  const s = summarizeRetrievalPair('A', 'B', A, B);
  test('text→image: 2×2 tables counted by hand', () => {
    // ranks A [1, 3, 7], B [4, 1, 9]
    expect(s.text_to_image['R@1']).toMatchObject({ n: 3, both_right: 0, only_a: 1, only_b: 1, both_wrong: 1 });
    expect(s.text_to_image['R@5']).toMatchObject({ n: 3, both_right: 2, only_a: 0, only_b: 0, both_wrong: 1 });
    expect(s.text_to_image['R@10']).toMatchObject({ n: 3, both_right: 3, only_a: 0, only_b: 0, both_wrong: 0 });
    expect(s.text_to_image['R@1'].mcnemar_p).toBe(mcnemarExactP(1, 1));
    expect(s.text_to_image['R@1'].acc_diff).toBeCloseTo(0, 12);
    expect(s.text_to_image['R@10'].acc_diff_ci95).toEqual([0, 0]);
  });
  test('image→text: ranks A [2, 1], B [3, 1]', () => {
    expect(s.image_to_text['R@1']).toMatchObject({ n: 2, both_right: 1, only_a: 0, only_b: 0, both_wrong: 1 });
    expect(s.image_to_text['R@5']).toMatchObject({ n: 2, both_right: 2, only_a: 0, only_b: 0, both_wrong: 0 });
    expect(s.image_to_text['R@5'].mcnemar_p).toBe(1);
  });
});
