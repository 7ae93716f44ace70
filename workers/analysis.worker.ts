/**
 * Scoring and metrics off the main thread: similarity of every image with every class (n×C×dim
 * multiply-adds), softmax, top-5, metrics and the per-template table. Pure core code, so the UI and the
 * bench (which drives the UI) share one implementation. Image embeddings come from the cache worker
 * over this worker's own port (`useRows`): the main thread names the rows, never carries them.
 */
import * as Comlink from 'comlink';
import { matmulT } from '../src/core/vector';
import {
  computeMetrics,
  creditedLabels,
  ensembleClassEmbeddings,
  perTemplateAccuracy,
  predict,
  type ClassificationMetrics,
  type Predictions,
  type ScoreParams,
} from '../src/core/metrics';
import { retrievalMetrics, topMatches, type RetrievalInput, type RetrievalResult } from '../src/core/retrieval';
import type { RowsRef } from './row-memo';
import type { RowsApi } from './store.worker';

/** The cache worker's rows (see `useRows`). */
let rows: Comlink.Remote<RowsApi> | null = null;

/** The rows of `ref` (n×dim unit rows, image or text), from the cache worker. */
function heldRows(ref: RowsRef): Promise<Float32Array> {
  if (!rows) throw new Error('The analysis worker is not connected to the cache worker (useRows).');
  return rows.gather(ref);
}

export interface ScoreRequest {
  /** The n images to score (only images that embedded), rows held by the cache worker. */
  images: RowsRef;
  labels: Int32Array;
  /** Per image, every acceptable class where a metadata label lists several ("any of" scoring). */
  accepted?: (number[] | null)[];
  /** The C·T prompts, class-major (unit rows held by the cache worker). */
  prompts: RowsRef;
  numClasses: number;
  numTemplates: number;
  dim: number;
  /** How cosines become probabilities (the model family's rule and scalars). */
  scoring: ScoreParams;
  /** Upper bound on n·C·T·dim work for the per-template table; above it a fixed sample of images is used. */
  templateBudget: number;
}

export interface ScoreResult {
  /** The labels scored against: the request's, or under "any of" the accepted class each image was credited with. */
  labels: Int32Array;
  metrics: ClassificationMetrics;
  predictions: Predictions;
  /** Top-1 accuracy per template, or null with a single template. */
  perTemplate: number[] | null;
  /** Images the per-template table was computed on (n, or a sample when n·C·T·dim is large). */
  perTemplateImages: number;
  /** C×dim ensemble class embeddings. */
  classEmbeddings: Float32Array;
}

/** A retrieval run's request: image and caption rows held by the cache worker, the rest as in `RetrievalInput`. */
export type RetrieveRequest = Omit<RetrievalInput, 'images' | 'captions'> & { images: RowsRef; captions: RowsRef };

type Scored = Omit<ScoreRequest, 'images' | 'prompts'> & { images: Float32Array; prompts: Float32Array };

/** Every k-th image, so the sample spreads over classes in a sorted folder. */
function strideSample(
  req: Scored,
  max: number,
): { images: Float32Array; labels: Int32Array; accepted?: (number[] | null)[] } {
  const n = req.labels.length;
  if (n <= max) return { images: req.images, labels: req.labels, accepted: req.accepted };
  const step = n / max;
  const images = new Float32Array(max * req.dim);
  const labels = new Int32Array(max);
  const accepted = req.accepted ? new Array<number[] | null>(max) : undefined;
  for (let j = 0; j < max; j++) {
    const i = Math.floor(j * step);
    images.set(req.images.subarray(i * req.dim, (i + 1) * req.dim), j * req.dim);
    labels[j] = req.labels[i] as number;
    if (accepted) accepted[j] = req.accepted![i] ?? null;
  }
  return { images, labels, accepted };
}

/** Image embeddings (n×dim unit rows) of the last retrieval run, kept here for interactive search. */
let gallery: { images: Float32Array; dim: number } | null = null;

const api = {
  /** Take the cache worker's rows on `port` (see src/state/run-context.ts). */
  useRows(port: MessagePort): void {
    rows = Comlink.wrap<RowsApi>(port);
  },

  async score(request: ScoreRequest): Promise<ScoreResult> {
    const [images, prompts] = await Promise.all([heldRows(request.images), heldRows(request.prompts)]);
    const req: Scored = { ...request, images, prompts };
    const { numClasses: c, numTemplates: t, dim } = req;
    if (req.images.length !== req.labels.length * dim) throw new Error('Image rows and labels differ in number.');
    const classEmbeddings = ensembleClassEmbeddings(req.prompts, c, t, dim);
    const sims = matmulT(req.images, classEmbeddings, dim);
    const predictions = predict(sims, c, req.scoring);
    const labels = req.accepted ? creditedLabels(predictions, req.labels, req.accepted) : req.labels;
    const metrics = computeMetrics(predictions, labels, c);
    let perTemplate: number[] | null = null;
    let perTemplateImages = 0;
    if (t > 1) {
      const maxImages = Math.max(1, Math.floor(req.templateBudget / (c * t * dim)));
      const sample = strideSample(req, maxImages);
      perTemplate = perTemplateAccuracy(sample.images, sample.labels, req.prompts, c, t, dim, sample.accepted);
      perTemplateImages = sample.labels.length;
    }
    return Comlink.transfer({ labels, metrics, predictions, perTemplate, perTemplateImages, classEmbeddings }, [
      predictions.topk.buffer,
      predictions.topkProb.buffer,
      metrics.confusion.buffer,
    ]);
  },

  /** Ranks and Recall@K both ways (see core/retrieval); `onProgress` gets captions scored so far. */
  async retrieve(req: RetrieveRequest, onProgress?: (done: number, total: number) => void): Promise<RetrievalResult> {
    const [images, captions] = await Promise.all([heldRows(req.images), heldRows(req.captions)]);
    const r = retrievalMetrics({ ...req, images, captions }, onProgress);
    return Comlink.transfer(r, [r.textRanks.buffer, r.imageRanks.buffer, r.textTop.buffer, r.imageTop.buffer]);
  },

  /** Keep the searchable images (n×dim unit rows, from the cache worker). */
  async setGallery(images: RowsRef, dim: number): Promise<void> {
    gallery = { images: await heldRows(images), dim };
  },

  /**
   * The `k` gallery images most similar to `query` (a unit text or image embedding), best first;
   * `exclude` leaves out one row (the image a "more like this" started from).
   */
  search(query: Float32Array, k: number, exclude = -1): { ids: number[]; scores: number[]; ms: number } {
    if (!gallery) return { ids: [], scores: [], ms: 0 };
    const t0 = performance.now();
    const r = topMatches(gallery.images, query, gallery.dim, k, exclude);
    return { ...r, ms: performance.now() - t0 };
  },

  /** Like `search`, for a query whose unit row the cache worker holds (a typed text). */
  async searchRows(query: RowsRef, k: number): Promise<{ ids: number[]; scores: number[]; ms: number }> {
    return api.search(await heldRows(query), k);
  },

  /** Like `search`, from a gallery image's own embedding. */
  similarTo(row: number, k: number): { ids: number[]; scores: number[]; ms: number } {
    if (!gallery) return { ids: [], scores: [], ms: 0 };
    const { images, dim } = gallery;
    return api.search(images.slice(row * dim, (row + 1) * dim), k, row);
  },
};

export type AnalysisWorkerApi = typeof api;

Comlink.expose(api);
