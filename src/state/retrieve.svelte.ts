/**
 * Text↔image retrieval on a captioned folder: intake (images + a caption file or same-name .txt
 * files), the run (captions and images through the embedding cache, then ranks and Recall@K in the
 * analysis worker), interactive search over the run's images, and exports. The bench drives this
 * object through the page, as the UI does.
 */
import * as Comlink from 'comlink';
import { byCodePoint, isImageName, type Skipped } from '../core/image-folder';
import type { RunManifest, CacheStats } from '../core/results';
import type { RetrievalResult } from '../core/retrieval';
import { retrievalJson, retrievalCsv, type RetrievalRun } from '../core/retrieval-results';
import {
  findCaptionFile,
  matchCaptions,
  parseCaptionFile,
  sidecarCaptions,
  sidecarTexts,
  type CaptionMatch,
} from '../data/captions';
import { describeError, WorkbenchError } from '../data/errors';
import type { PickedFile } from '../data/folder-intake';
import type { AnalysisWorkerApi } from '../../workers/clip-api';
import type { EngineState, UserError } from './engine.svelte';
import type { StorageState } from './storage.svelte';
import type { Progress } from './classify.svelte';
import { EmbeddingCache } from './embedding-cache.svelte';
import { hashingStep, type IndexProgress } from './content-index.svelte';
import { abortable, encodeMissingImages, encodePrompts } from './image-encoding';
import { importedLookup } from './imported-embeddings.svelte';
import { createAnalysisWorker, modelManifest, towerKeys } from './run-context';

export interface RetrievalDataset {
  name: string;
  /** Every image in the folder (path relative to it, sorted) and its file. */
  images: { path: string; file: File }[];
  /** Where the captions came from (a file name, or "same-name .txt files"); null when none were found. */
  captionSource: string | null;
  match: CaptionMatch | null;
  skipped: Skipped[];
}

export interface SearchResult {
  /** The text typed, or the image a "more like this" started from. */
  query: { text: string } | { image: number };
  /** Gallery rows (indices into run.gallery), best first, and their cosines. */
  ids: number[];
  scores: number[];
  /** Encoding the query (0 for an image query or a cached text) and ranking the gallery. */
  encodeMs: number;
  rankMs: number;
  totalMs: number;
}

/** Images shown per search. */
export const SEARCH_K = 24;

function stripRoot(entries: PickedFile[]): { path: string; file: File }[] {
  const first = entries[0]?.path.split('/') ?? [];
  const root = first.length > 1 && entries.every((e) => e.path.startsWith(`${first[0]}/`)) ? first[0]! : null;
  return entries.map((e) => ({ path: root ? e.path.slice(root.length + 1) : e.path, file: e.file }));
}

export class RetrieveState {
  dataset = $state.raw<RetrievalDataset | null>(null);
  progress = $state<Progress | null>(null);
  running = $state(false);
  error = $state<UserError | null>(null);
  failed = $state.raw<Skipped[]>([]);
  run = $state.raw<RetrievalRun | null>(null);
  search = $state.raw<SearchResult | null>(null);
  searching = $state(false);
  searchError = $state<string | null>(null);

  private cache: EmbeddingCache;
  private analysis: Comlink.Remote<AnalysisWorkerApi> | null = null;
  /** Cancels the running run (each run has its own). */
  private abort: AbortController | null = null;
  /** Files by path, for the dataset they were built from. */
  private filesOf: { dataset: RetrievalDataset; byPath: Map<string, File> } | null = null;
  /** Latest search wins: an older one finishing later is dropped. */
  private searchSeq = 0;

  constructor(
    private engine: EngineState,
    private storage: StorageState,
  ) {
    this.cache = new EmbeddingCache(storage.store);
    this.cache.contents.onProgress = (p) => {
      if (this.progress?.phase === 'hashing') Object.assign(this.progress, hashingStep(p, p.total));
    };
  }

  get useCache(): boolean {
    return this.cache.enabled;
  }
  set useCache(on: boolean) {
    this.cache.enabled = on;
  }

  get storageWarning(): string | null {
    return this.cache.warning;
  }

  get indexing(): IndexProgress | null {
    return this.cache.contents.progress;
  }

  private analysisApi(): Comlink.Remote<AnalysisWorkerApi> {
    return (this.analysis ??= createAnalysisWorker(this.storage.store));
  }

  /** Take a picked or dropped folder: its images, and captions from a caption file or .txt files. */
  async setFolder(entries: PickedFile[]): Promise<void> {
    this.run = null;
    this.search = null;
    this.failed = [];
    this.error = null;
    const files = stripRoot(entries);
    const name = (entries[0]?.path.includes('/') ? entries[0].path.split('/')[0] : null) || 'dropped folder';
    const sidecars = sidecarTexts(files.map((f) => f.path));
    const sidecarFiles = new Set(sidecars.values());
    const captionIdx = findCaptionFile(files.map((f) => f.path));
    const images: { path: string; file: File }[] = [];
    const skipped: Skipped[] = [];
    files.forEach((f, i) => {
      if (isImageName(f.path, f.file.type)) images.push(f);
      else if (i !== captionIdx && !sidecarFiles.has(i) && !/(^|\/)(source|readme|license)/i.test(f.path))
        skipped.push({
          file: f.path,
          reason:
            findCaptionFile([f.path]) === 0
              ? 'another caption file, not used (“Use another caption file…” switches to it)'
              : 'not an image or the caption file',
        });
    });
    images.sort((a, b) => byCodePoint(a.path, b.path));
    if (images.length === 0) {
      this.dataset = null;
      this.error = { code: 'bad-input', message: 'No images were found in this folder.' };
      return;
    }
    let captionSource: string | null = null;
    let match: CaptionMatch | null = null;
    try {
      if (captionIdx !== null) {
        const f = files[captionIdx]!;
        captionSource = f.path;
        match = matchCaptions(
          parseCaptionFile(f.path, await f.file.text()),
          images.map((im) => im.path),
        );
      } else if (sidecars.size > 0) {
        captionSource = 'same-name .txt files';
        const items = await Promise.all(
          [...sidecars].map(async ([img, txt]) => ({ image: files[img]!.path, text: await files[txt]!.file.text() })),
        );
        match = matchCaptions(
          sidecarCaptions(items),
          images.map((im) => im.path),
        );
      }
    } catch (e) {
      this.error = describeError(e);
      captionSource = null;
      match = null;
    }
    this.dataset = { name, images, captionSource, match, skipped };
    this.cache.contents.start(images.map((im) => im.file));
  }

  /** Use another caption file (COCO .json, .csv, .tsv, .jsonl) for the images already picked. */
  async importCaptions(file: File): Promise<boolean> {
    const d = this.dataset;
    if (!d || this.running) return false;
    try {
      const match = matchCaptions(
        parseCaptionFile(file.name, await file.text()),
        d.images.map((im) => im.path),
      );
      this.dataset = { ...d, captionSource: file.name, match };
      this.run = null;
      this.search = null;
      this.error = null;
      return true;
    } catch (e) {
      this.error = describeError(e);
      return false;
    }
  }

  /** Cancel the run in whatever phase it is (hashing, cache read, prompts, decoding, inference). */
  cancel(): void {
    this.abort?.abort();
    this.engine.cancel();
  }

  /**
   * Embed every image and caption (through the cache: only what this model has not embedded yet is
   * encoded), then rank both ways. Without captions the run embeds the images for search only.
   */
  async start(): Promise<boolean> {
    const d = this.dataset;
    const info = this.engine.info;
    if (!d || !info || this.engine.status !== 'ready' || this.running) return false;
    this.running = true;
    this.error = null;
    this.failed = [];
    this.search = null;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    const tStart = performance.now();
    const keys = towerKeys(this.engine);
    const dim = info.embeddingDim;
    this.cache.begin(keys.vision, keys.text, info.id, dim);
    const blobs = d.images.map((im) => im.file);
    const paths = d.images.map((im) => im.path);
    const stats: CacheStats = { enabled: this.useCache, image_hits: 0, image_misses: 0, text_hits: 0, text_misses: 0 };
    try {
      // Issue 16: embeddings imported from elsewhere answer for their entries instead of hashing and encoding.
      const lookup = importedLookup(blobs, this.cache, dim) ?? this.cache.lookupImages(blobs, dim);
      lookup.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      const match = d.match;
      const t0 = performance.now();
      const texts = await encodePrompts(
        this.engine,
        this.cache,
        (match?.captions ?? []).map((c) => c.caption),
        (total) => (this.progress = phase('texts', 'Encoding captions', 'captions', total)),
        (done) => this.progress && (this.progress.done = done),
      );
      stats.text_hits = texts.hits;
      stats.text_misses = texts.misses;
      const embedTextsMs = performance.now() - t0;
      this.progress = { phase: 'hashing', ...hashingStep(this.indexing, d.images.length) };
      const found = await abortable(lookup, signal);
      const enc = await encodeMissingImages({
        engine: this.engine,
        cache: this.cache,
        paths,
        blobs,
        lookup: found,
        signal,
        run: { dataset: d.name, modelLabel: info.id, visionModel: keys.vision },
        onStart: (done, total) => {
          this.progress = phase('images', 'Encoding images', 'images', total);
          this.progress.done = done;
        },
        onChunk: (n, failed) => {
          if (failed.length !== this.failed.length) this.failed = [...failed];
          if (this.progress) this.progress.done += n;
        },
      });
      stats.image_misses = enc.encoded;

      // The gallery: every image that embedded, in folder order.
      const galleryRows = d.images.map((_, i) => i).filter((i) => found.hashes[i] && this.cache.has(found.hashes[i]!));
      stats.image_hits = galleryRows.length - enc.encoded;
      if (galleryRows.length === 0)
        throw new WorkbenchError('bad-input', 'None of the images could be read, so there is nothing to search.');
      // Image rows stay in the cache worker; the analysis worker reads them there by content hash.
      const galleryKeys = galleryRows.map((i) => found.hashes[i]!);
      const galleryOf = new Map(galleryRows.map((i, r) => [paths[i]!, r]));

      // Evaluation: captioned images that embedded, in the caption file's order, and their captions.
      const t2 = performance.now();
      let result: RetrievalResult | null = null;
      const evalImages: number[] = [];
      let evalCaptions: { caption: string; image: number; row: number }[] = [];
      if (match && match.captions.length > 0) {
        const evalRow = new Map<number, number>();
        match.images.forEach((p, k) => {
          const g = galleryOf.get(p);
          if (g !== undefined) {
            evalRow.set(k, evalImages.length);
            evalImages.push(g);
          }
        });
        evalCaptions = match.captions.flatMap((c, row) => {
          const image = evalRow.get(c.image);
          return image === undefined ? [] : [{ caption: c.caption, image, row }];
        });
        this.progress = phase('scoring', 'Ranking', 'captions', evalCaptions.length);
        result = await this.analysisApi().retrieve(
          {
            images: this.cache.rows(evalImages.map((g) => galleryKeys[g]!)),
            captions: { memo: texts.rows.memo, keys: evalCaptions.map((c) => c.caption) },
            captionImage: Int32Array.from(evalCaptions, (c) => c.image),
            dim,
          },
          Comlink.proxy((done: number) => this.progress && (this.progress.done = done)),
        );
      }
      const rankMs = performance.now() - t2;
      await this.analysisApi().setGallery(this.cache.rows(galleryKeys), dim);
      await this.cache.finish(d.name, new Set(found.hashes).size);
      const manifest: Omit<RunManifest, 'templates'> = await modelManifest(this.engine);
      this.run = {
        manifest,
        datasetName: d.name,
        captionSource: d.captionSource,
        gallery: galleryRows.map((i) => paths[i]!),
        evalImages,
        captions: evalCaptions.map((c) => ({ caption: c.caption, image: c.image })),
        result,
        failed: enc.failed,
        notes: enc.notes,
        missing: match?.missing ?? [],
        uncaptioned: match?.uncaptioned ?? [],
        ambiguous: match?.ambiguous ?? [],
        skipped: d.skipped,
        timing: {
          model_load_ms: Math.round(this.engine.loadMs),
          total_ms: Math.round(performance.now() - tStart),
          embed_texts_ms: Math.round(embedTextsMs),
          embed_images_ms: Math.round(enc.ms),
          hash_ms: Math.round(found.hashMs),
          index_ms: this.indexing?.ms != null ? Math.round(this.indexing.ms) : null,
          cache_read_ms: Math.round(found.readMs),
          rank_ms: Math.round(rankMs),
        },
        cache: stats,
        cacheWarning: this.storageWarning,
      };
      this.progress = null;
      return true;
    } catch (e) {
      this.error = describeError(e);
      this.progress = null;
      return false;
    } finally {
      await this.cache.endRun();
      this.running = false;
      void this.storage.refresh();
    }
  }

  /** Images most similar to a typed query (the text is encoded, or taken from the cache). */
  async searchText(text: string, k = SEARCH_K): Promise<SearchResult | null> {
    const q = text.trim();
    if (!q || !this.run || this.engine.status !== 'ready') return null;
    const seq = ++this.searchSeq;
    const t0 = performance.now();
    this.searching = true;
    this.searchError = null;
    try {
      const { rows } = await encodePrompts(this.engine, this.cache, [q], () => undefined);
      const t1 = performance.now();
      const r = await this.analysisApi().searchRows(rows, k);
      return this.settle(seq, { query: { text: q }, ...r, t0, t1 });
    } catch (e) {
      if (seq === this.searchSeq) this.searchError = describeError(e).message;
      return null;
    } finally {
      if (seq === this.searchSeq) this.searching = false;
    }
  }

  /** "More like this": the gallery images most similar to gallery image `row` (itself left out). */
  async moreLikeThis(row: number, k = SEARCH_K): Promise<SearchResult | null> {
    if (!this.run) return null;
    const seq = ++this.searchSeq;
    const t0 = performance.now();
    const r = await this.analysisApi().similarTo(row, k);
    return this.settle(seq, { query: { image: row }, ...r, t0, t1: t0 });
  }

  private settle(
    seq: number,
    r: { query: SearchResult['query']; ids: number[]; scores: number[]; ms: number; t0: number; t1: number },
  ): SearchResult | null {
    if (seq !== this.searchSeq) return null;
    const now = performance.now();
    const result: SearchResult = {
      query: r.query,
      ids: r.ids,
      scores: r.scores,
      encodeMs: r.t1 - r.t0,
      rankMs: r.ms,
      totalMs: now - r.t0,
    };
    this.search = result;
    return result;
  }

  /** The picked file of a gallery row (for thumbnails). */
  fileOf(galleryRow: number): File | undefined {
    const p = this.run?.gallery[galleryRow];
    const d = this.dataset;
    if (p === undefined || !d) return undefined;
    if (this.filesOf?.dataset !== d)
      this.filesOf = { dataset: d, byPath: new Map(d.images.map((im) => [im.path, im.file])) };
    return this.filesOf.byPath.get(p);
  }

  resultsJson(): Record<string, unknown> | null {
    return this.run ? retrievalJson(this.run) : null;
  }

  perQueryCsv(): string | null {
    return this.run ? retrievalCsv(this.run) : null;
  }
}

function phase(p: Progress['phase'], label: string, unit: string, total: number): Progress {
  return { phase: p, label, unit, done: 0, total, startedAt: performance.now() };
}
