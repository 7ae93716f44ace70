/**
 * A finished retrieval run and its exports: the results JSON (the bench writes the same object) and a
 * per-query CSV. Metric names follow CLIP_benchmark (`text_to_image_R@1` …).
 */
import { csvRows, round, timingJson, type CacheStats, type RunManifest } from './results';
import { RECALL_KS, TOP_RETRIEVED, type DirectionMetrics, type RetrievalResult } from './retrieval';

export interface RetrievalRun {
  manifest: Omit<RunManifest, 'templates'>;
  datasetName: string;
  captionSource: string | null;
  /** Paths of the searchable images (every image that embedded), folder order. */
  gallery: string[];
  /** Gallery rows of the evaluated images, in the caption file's image order. */
  evalImages: number[];
  /** Evaluated captions in the caption file's order; `image` indexes `evalImages`. */
  captions: { caption: string; image: number }[];
  /** Null when there were no captions (search only). */
  result: RetrievalResult | null;
  failed: { file: string; reason: string }[];
  /** Images evaluated with a caveat (an animated GIF's first frame only), and what it is. */
  notes: { file: string; reason: string }[];
  missing: { file: string; captions: number }[];
  uncaptioned: string[];
  ambiguous: string[];
  skipped: { file: string; reason: string }[];
  timing: {
    model_load_ms: number;
    total_ms: number;
    embed_texts_ms: number;
    embed_images_ms: number;
    hash_ms: number;
    index_ms: number | null;
    cache_read_ms: number;
    rank_ms: number;
  };
  cache: CacheStats;
  cacheWarning: string | null;
}

function direction(prefix: string, m: DirectionMetrics): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const k of RECALL_KS) out[`${prefix}_R@${k}`] = round(m.recall[k]);
  out[`${prefix}_mean_rank`] = round(m.meanRank, 4);
  out[`${prefix}_median_rank`] = round(m.medianRank, 1);
  return out;
}

/** Metrics in CLIP_benchmark's names, both directions. */
export function retrievalMetricsJson(r: RetrievalResult): Record<string, number | null> {
  return { ...direction('text_to_image', r.textToImage), ...direction('image_to_text', r.imageToText) };
}

export function retrievalJson(run: RetrievalRun): Record<string, unknown> {
  const { manifest, result: r } = run;
  const image = (k: number) => run.gallery[run.evalImages[k]!]!;
  return {
    task: 'retrieve',
    backend: manifest.backend,
    dtype: manifest.dtype,
    model: manifest.model,
    dataset: {
      name: run.datasetName,
      captions_file: run.captionSource,
      images: run.gallery.length + run.failed.length,
      searchable_images: run.gallery.length,
      evaluated_images: run.evalImages.length,
      captions: run.captions.length,
      failed: run.failed,
      notes: run.notes,
      captions_without_image: run.missing,
      images_without_caption: run.uncaptioned,
      ambiguous_names: run.ambiguous,
      skipped: run.skipped,
    },
    metrics: r ? retrievalMetricsJson(r) : null,
    per_query: r
      ? {
          text_to_image: run.captions.map((c, q) => ({
            caption: c.caption,
            image: image(c.image),
            rank: r.textRanks[q],
          })),
          image_to_text: run.evalImages.map((_, k) => ({ image: image(k), rank: r.imageRanks[k] })),
        }
      : null,
    timing: timingJson(run.timing, run.cache),
    cache: { ...run.cache, warning: run.cacheWarning ?? undefined },
    manifest: { app_version: manifest.app_version, date: manifest.date, preprocessing: manifest.preprocessing },
  };
}

/**
 * One row per query: direction, the query (caption text or image path), what was correct, the rank of
 * the first correct item, and the top retrieved items (image paths, or caption texts).
 */
export function retrievalCsv(run: RetrievalRun): string {
  const r = run.result;
  const header = ['direction', 'query', 'correct', 'rank'];
  for (let j = 1; j <= TOP_RETRIEVED; j++) header.push(`retrieved_${j}`);
  const rows: (string | number)[][] = [header];
  if (!r) return csvRows(rows);
  const image = (k: number) => run.gallery[run.evalImages[k]!]!;
  const top = (arr: Int32Array, q: number, name: (id: number) => string) =>
    Array.from(arr.subarray(q * TOP_RETRIEVED, (q + 1) * TOP_RETRIEVED), (id) => (id < 0 ? '' : name(id)));
  run.captions.forEach((c, q) => {
    rows.push(['text_to_image', c.caption, image(c.image), r.textRanks[q]!, ...top(r.textTop, q, image)]);
  });
  const captionsOf = new Map<number, string[]>();
  run.captions.forEach((c) => captionsOf.set(c.image, [...(captionsOf.get(c.image) ?? []), c.caption]));
  run.evalImages.forEach((_, k) => {
    rows.push([
      'image_to_text',
      image(k),
      (captionsOf.get(k) ?? []).join(' | '),
      r.imageRanks[k]!,
      ...top(r.imageTop, k, (id) => run.captions[id]!.caption),
    ]);
  });
  return csvRows(rows);
}
