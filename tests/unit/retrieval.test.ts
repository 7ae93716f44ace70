import { describe, expect, test } from 'vitest';
import { median, retrievalMetrics, summarize, topMatches, TOP_RETRIEVED } from '../../src/core/retrieval';
import { retrievalCsv, retrievalJson, type RetrievalRun } from '../../src/core/retrieval-results';

/**
 * Similarities are set by hand: images are the basis vectors e_i (dim = number of images), so the dot
 * product of caption c with image i is exactly captions[c][i].
 */
function handMade(sims: number[][], captionImage: number[]) {
  const n = sims[0]!.length;
  const images = new Float32Array(n * n);
  for (let i = 0; i < n; i++) images[i * n + i] = 1;
  return retrievalMetrics({
    images,
    captions: Float32Array.from(sims.flat()),
    captionImage: Int32Array.from(captionImage),
    dim: n,
  });
}

describe('retrieval metric on hand-checked similarity matrices', () => {
  // captions × images; captions 0 and 1 belong to image 0, caption 2 to image 1, caption 3 to image 2.
  const sims = [
    [0.9, 0.5, 0.1], // its image first: rank 1
    [0.3, 0.3, 0.7], // tie with image 1 does not count, image 2 is strictly better: rank 2
    [0.2, 0.2, 0.2], // all tied: rank 1 whatever the sort order
    [0.8, 0.6, 0.1], // last: rank 3
  ];
  const r = handMade(sims, [0, 0, 1, 2]);

  test('text→image ranks count only strictly more similar images', () => {
    expect(Array.from(r.textRanks)).toEqual([1, 2, 1, 3]);
    expect(r.textToImage.recall[1]).toBe(0.5);
    expect(r.textToImage.recall[5]).toBe(1);
    expect(r.textToImage.meanRank).toBe(1.75);
    expect(r.textToImage.medianRank).toBe(1.5);
  });

  test('image→text: the best of several correct captions counts; ties with it do not', () => {
    // image 0: its captions score 0.9 and 0.3 → best 0.9, nothing above: rank 1.
    // image 1: its caption scores 0.2; 0.5, 0.3 and 0.6 are above: rank 4.
    // image 2: its caption scores 0.1; 0.7 and 0.2 are above, caption 0 ties at 0.1: rank 3.
    expect(Array.from(r.imageRanks)).toEqual([1, 4, 3]);
    expect(r.imageToText.recall[1]).toBeCloseTo(1 / 3, 12);
    expect(r.imageToText.recall[5]).toBe(1);
    expect(r.imageToText.meanRank).toBeCloseTo(8 / 3, 12);
    expect(r.imageToText.medianRank).toBe(3);
  });

  test('retrieved lists are best first, ties broken by lower index, padded with -1', () => {
    const t = (arr: Int32Array, q: number) => Array.from(arr.subarray(q * TOP_RETRIEVED, (q + 1) * TOP_RETRIEVED));
    expect(t(r.textTop, 0)).toEqual([0, 1, 2, -1, -1]);
    expect(t(r.textTop, 1)).toEqual([2, 0, 1, -1, -1]);
    expect(t(r.textTop, 2)).toEqual([0, 1, 2, -1, -1]);
    expect(t(r.imageTop, 0)).toEqual([0, 3, 1, 2, -1]);
    expect(t(r.imageTop, 2)).toEqual([1, 2, 0, 3, -1]);
  });

  test('identical captions get identical ranks', () => {
    const twin = handMade(
      [
        [0.4, 0.6],
        [0.4, 0.6],
        [0.9, 0.1],
      ],
      [0, 0, 1],
    );
    expect(Array.from(twin.textRanks)).toEqual([2, 2, 2]);
    expect(Array.from(twin.imageRanks)).toEqual([2, 3]);
  });

  test('median and summary follow numpy; images without captions are left out of image→text', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const s = summarize([0, 1, 11, 6]);
    expect(s.recall).toEqual({ 1: 1 / 3, 5: 1 / 3, 10: 2 / 3 });
    expect(s.meanRank).toBe(6);
    const r2 = handMade(
      [
        [0.5, 0.9],
        [0.7, 0.1],
      ],
      [0, 0],
    );
    expect(Array.from(r2.imageRanks)).toEqual([1, 0]);
    expect(r2.imageToText.meanRank).toBe(1);
  });
});

describe('retrieval metric against brute force', () => {
  test('blocked ranks equal a full-matrix computation (600 captions, 3 per image, duplicates)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const dim = 8;
    const n = 200;
    const q = 600;
    const images = Float32Array.from({ length: n * dim }, rand);
    const captions = Float32Array.from({ length: q * dim }, rand);
    // Every 10th caption repeats the previous one, as identical captions do.
    for (let c = 10; c < q; c += 10) captions.copyWithin(c * dim, (c - 1) * dim, c * dim);
    const captionImage = Int32Array.from({ length: q }, (_, c) => Math.floor(c / 3));
    const r = retrievalMetrics({ images, captions, captionImage, dim });
    const sim = (c: number, i: number) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += captions[c * dim + j]! * images[i * dim + j]!;
      return Math.fround(s);
    };
    for (let c = 0; c < q; c += 7) {
      const own = sim(c, captionImage[c]!);
      let greater = 0;
      for (let i = 0; i < n; i++) if (sim(c, i) > own) greater++;
      expect(r.textRanks[c]).toBe(greater + 1);
    }
    for (let i = 0; i < n; i += 9) {
      let best = -Infinity;
      for (let c = 0; c < q; c++) if (captionImage[c] === i) best = Math.max(best, sim(c, i));
      let greater = 0;
      for (let c = 0; c < q; c++) if (sim(c, i) > best) greater++;
      expect(r.imageRanks[i]).toBe(greater + 1);
    }
  });

  test('topMatches returns the k most similar rows and can leave one out', () => {
    const gallery = Float32Array.from([1, 0, 0, 1, 0.6, 0.8, -1, 0]);
    const m = topMatches(gallery, Float32Array.from([1, 0]), 2, 3);
    expect(m.ids).toEqual([0, 2, 1]);
    expect(m.scores.map((s) => +s.toFixed(4))).toEqual([1, 0.6, 0]);
    expect(topMatches(gallery, Float32Array.from([1, 0]), 2, 2, 0).ids).toEqual([2, 1]);
  });
});

describe('retrieval exports', () => {
  const result = handMade(
    [
      [0.9, 0.5],
      [0.2, 0.8],
      [0.6, 0.7],
    ],
    [0, 1, 1],
  );
  const run: RetrievalRun = {
    manifest: {
      app_version: 't',
      date: 'd',
      model: { id: 'm', origin: 'o', files: {}, logit_scale: 100, logit_scale_source: 'x', embedding_dim: 2 },
      backend: 'wasm',
      dtype: 'fp32',
      preprocessing: {},
    },
    datasetName: 'tiny',
    captionSource: 'captions.csv',
    gallery: ['a.jpg', 'extra.jpg', 'b.jpg'],
    evalImages: [0, 2],
    captions: [
      { caption: 'a red, round thing', image: 0 },
      { caption: 'b one', image: 1 },
      { caption: 'b "two"', image: 1 },
    ],
    result,
    failed: [],
    notes: [],
    missing: [],
    uncaptioned: ['extra.jpg'],
    ambiguous: [],
    skipped: [],
    timing: {
      model_load_ms: 1,
      total_ms: 2,
      embed_texts_ms: 0,
      embed_images_ms: 0,
      hash_ms: 0,
      index_ms: null,
      cache_read_ms: 0,
      rank_ms: 0,
    },
    cache: { enabled: true, image_hits: 3, image_misses: 0, text_hits: 3, text_misses: 0 },
    cacheWarning: null,
  };

  test('results JSON uses CLIP_benchmark names and lists queries in file order with image paths', () => {
    const j = retrievalJson(run) as {
      metrics: Record<string, number>;
      per_query: { text_to_image: { caption: string; image: string; rank: number }[]; image_to_text: unknown[] };
    };
    expect(Object.keys(j.metrics)).toEqual([
      'text_to_image_R@1',
      'text_to_image_R@5',
      'text_to_image_R@10',
      'text_to_image_mean_rank',
      'text_to_image_median_rank',
      'image_to_text_R@1',
      'image_to_text_R@5',
      'image_to_text_R@10',
      'image_to_text_mean_rank',
      'image_to_text_median_rank',
    ]);
    expect(j.metrics['text_to_image_R@1']).toBe(1);
    expect(j.metrics['image_to_text_mean_rank']).toBe(1);
    expect(j.per_query.text_to_image).toEqual([
      { caption: 'a red, round thing', image: 'a.jpg', rank: 1 },
      { caption: 'b one', image: 'b.jpg', rank: 1 },
      { caption: 'b "two"', image: 'b.jpg', rank: 1 },
    ]);
    expect(j.per_query.image_to_text).toEqual([
      { image: 'a.jpg', rank: 1 },
      { image: 'b.jpg', rank: 1 },
    ]);
  });

  test('per-query CSV quotes captions and names retrieved items', () => {
    const lines = retrievalCsv(run).trimEnd().split('\r\n');
    expect(lines[0]).toBe('direction,query,correct,rank,retrieved_1,retrieved_2,retrieved_3,retrieved_4,retrieved_5');
    expect(lines[1]).toBe('text_to_image,"a red, round thing",a.jpg,1,a.jpg,b.jpg,,,');
    expect(lines[3]).toBe('text_to_image,"b ""two""",b.jpg,1,b.jpg,a.jpg,,,');
    expect(lines[5]).toBe('image_to_text,b.jpg,"b one | b ""two""",1,b one,"b ""two""","a red, round thing",,');
  });
});
