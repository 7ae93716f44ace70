/**
 * The results document of a classification run (the bench writes exactly this JSON) and the
 * per-image CSV. CLIP_benchmark's keys (`acc1`, `acc5`, `mean_per_class_recall`) plus ours; every
 * rate is a fraction in [0, 1]. Classes are identified by folder name; display names are listed apart.
 */
import type { ClassificationMetrics, Predictions } from './metrics';

export interface RunManifest {
  app_version: string;
  date: string;
  model: {
    id: string;
    origin: string;
    files: Record<string, string>;
    /** The scale applied to cosines (null when unknown: SigLIP before its scale is entered). */
    logit_scale: number | null;
    logit_scale_source: string;
    embedding_dim: number;
    /** The model family whose rules were applied (core/model-family) and why. */
    family?: { id: string; label: string; reason: string; flagged: boolean; rules: string };
    /** How probabilities were made: softmax or sigmoid, the scalars, and where each came from. */
    scoring?: {
      kind: 'softmax' | 'sigmoid';
      scale: number | null;
      scale_source: string;
      bias: number | null;
      bias_source: string;
      citation: string | null;
    };
  };
  backend: string;
  dtype: string;
  preprocessing: Record<string, unknown>;
  templates: { name: string; count: number; list: string[] };
}

export interface ClassifyRun {
  manifest: RunManifest;
  /** Class folder names (unique) and their prompt names, same order. */
  classes: string[];
  classNames: string[];
  /** Image files found in class folders, including those that failed to decode. */
  totalImages: number;
  failed: { file: string; reason: string }[];
  /** Images evaluated with a caveat (an animated GIF's first frame only), and what it is. */
  notes: { file: string; reason: string }[];
  skipped: { file: string; reason: string }[];
  /** Where labels came from when not class folders: a metadata file's column ("any of" its values). */
  labelSource?: { file: string; column: string } | null;
  /** Relative paths and labels of the images that were scored, in order. */
  files: string[];
  labels: Int32Array;
  metrics: ClassificationMetrics;
  predictions: Predictions;
  perTemplate: number[] | null;
  perTemplateImages: number;
  timing: {
    model_load_ms: number;
    /** Start of the run to results: hashing, cache reads, encoding and scoring. */
    total_ms: number;
    embed_images_ms: number;
    embed_texts_ms: number;
    /** Time the run waited for image hashes (hashing starts when the folder is picked). */
    hash_ms: number;
    /** How long hashing the picked folder's files took, from intake (null while unfinished). */
    index_ms: number | null;
    /** Reading cached image embeddings from IndexedDB. */
    cache_read_ms: number;
    score_ms: number;
  };
  /** Embeddings reused (memory or IndexedDB) versus encoded in this run. */
  cache: CacheStats;
  /** Set when the cache could not be written (quota): the run went on in memory. */
  cacheWarning: string | null;
}

export interface CacheStats {
  enabled: boolean;
  image_hits: number;
  image_misses: number;
  text_hits: number;
  text_misses: number;
}

export const round = (x: number, digits = 6) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

export function resultsJson(run: ClassifyRun): Record<string, unknown> {
  const { metrics, predictions, classes, manifest } = run;
  const k = predictions.k;
  const perClass: Record<string, unknown> = {};
  classes.forEach((c, i) => {
    const s = metrics.perClass[i]!;
    perClass[c] = {
      recall: round(s.recall),
      precision: round(s.precision),
      f1: round(s.f1),
      support: s.support,
    };
  });
  const n = run.labels.length;
  const matrix: number[][] = [];
  for (let r = 0; r < classes.length; r++) {
    matrix.push(Array.from(metrics.confusion.subarray(r * classes.length, (r + 1) * classes.length)));
  }
  return {
    task: 'classify',
    backend: manifest.backend,
    dtype: manifest.dtype,
    model: manifest.model,
    dataset: {
      images: run.totalImages,
      evaluated: n,
      classes: classes.length,
      class_names: Object.fromEntries(classes.map((c, i) => [c, run.classNames[i]])),
      failed: run.failed,
      notes: run.notes,
      skipped: run.skipped,
      labels: run.labelSource ? { file: run.labelSource.file, column: run.labelSource.column } : 'class folders',
    },
    templates: manifest.templates,
    metrics: {
      acc1: round(metrics.acc1),
      acc5: metrics.acc5 === null ? null : round(metrics.acc5),
      mean_per_class_recall: round(metrics.meanPerClassRecall),
      ece: round(metrics.ece),
      ece_bins: metrics.reliability.length,
      /** What the top-5 probabilities and ECE are: they depend on the family's scoring, ranks do not. */
      probabilities: probabilityKind(manifest),
      acc5_note: metrics.acc5 === null ? 'top-5 is not reported with fewer than 5 classes' : undefined,
      per_class: perClass,
      confusion_matrix: { rows: 'true class', cols: 'predicted class', classes, matrix },
      reliability: metrics.reliability.map((b) => ({
        lo: round(b.lo),
        hi: round(b.hi),
        count: b.count,
        accuracy: round(b.accuracy),
        confidence: round(b.confidence),
      })),
      per_template:
        run.perTemplate?.map((acc, j) => ({ template: manifest.templates.list[j], acc1: round(acc) })) ?? null,
      per_template_images: run.perTemplate ? run.perTemplateImages : undefined,
    },
    predictions: run.files.map((file, i) => ({
      file,
      label: classes[run.labels[i] as number],
      pred: classes[predictions.topk[i * k] as number],
      top5: Array.from({ length: k }, (_, j) => [
        classes[predictions.topk[i * k + j] as number],
        round(predictions.topkProb[i * k + j] as number),
      ]),
    })),
    timing: timingJson(run.timing, run.cache),
    cache: { ...run.cache, warning: run.cacheWarning ?? undefined },
    manifest: {
      app_version: manifest.app_version,
      date: manifest.date,
      preprocessing: manifest.preprocessing,
      logit_scale: manifest.model.logit_scale,
      logit_scale_source: manifest.model.logit_scale_source,
    },
  };
}

/** 'softmax over the labels', 'sigmoid per label' or 'not available' (SigLIP without scale and bias). */
export function probabilityKind(manifest: RunManifest): string {
  const s = manifest.model.scoring;
  if (!s) return 'softmax over the labels';
  if (s.scale === null || (s.kind === 'sigmoid' && s.bias === null)) return 'not available';
  return s.kind === 'sigmoid' ? 'sigmoid per label' : 'softmax over the labels';
}

/** A run's timings plus its encoding and cache-read rates. */
export function timingJson<T extends { embed_images_ms: number; cache_read_ms: number }>(
  timing: T,
  cache: CacheStats,
): T & { images_per_sec: number | null; cache_reads_per_sec: number | null } {
  return {
    ...timing,
    // Images encoded per second of encoding (cache hits are not encoded, so they do not count).
    images_per_sec:
      timing.embed_images_ms > 0 && cache.image_misses > 0
        ? round((cache.image_misses / timing.embed_images_ms) * 1000, 2)
        : null,
    cache_reads_per_sec:
      timing.cache_read_ms > 0 && cache.image_hits > 0
        ? round((cache.image_hits / timing.cache_read_ms) * 1000, 0)
        : null,
  };
}

/** RFC 4180 field: quoted when it holds a comma, quote or newline. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvRows(rows: (string | number)[][]): string {
  return rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** One row per scored image: file, true and predicted class, correctness, then the top-k with probabilities. */
export function predictionsCsv(run: ClassifyRun): string {
  const { predictions: p, classes } = run;
  const header = ['file', 'label', 'pred', 'correct'];
  for (let j = 1; j <= p.k; j++) header.push(`top${j}`, `p${j}`);
  const rows: (string | number)[][] = [header];
  run.files.forEach((file, i) => {
    const label = classes[run.labels[i] as number] as string;
    const pred = classes[p.topk[i * p.k] as number] as string;
    const row: (string | number)[] = [file, label, pred, label === pred ? 1 : 0];
    for (let j = 0; j < p.k; j++) {
      row.push(classes[p.topk[i * p.k + j] as number] as string, (p.topkProb[i * p.k + j] as number).toFixed(6));
    }
    rows.push(row);
  });
  return csvRows(rows);
}
