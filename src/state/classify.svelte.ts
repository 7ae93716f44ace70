/**
 * Zero-shot classification of an ImageFolder: intake, class names, templates, the run (texts, then
 * images in chunks, then scoring in the analysis worker) and its results. The bench drives exactly
 * this object through the page, so the UI and the bench share one implementation.
 */
import * as Comlink from 'comlink';
import { classNamesFrom, readImageFolder, type ImageFolderLayout, type Skipped } from '../core/image-folder';
import {
  isPresetId,
  parseTemplates,
  presetSet,
  promptGrid,
  TEMPLATE_PRESETS,
  type TemplateSet,
} from '../core/templates';
import { resultsJson, predictionsCsv, type CacheStats, type ClassifyRun, type RunManifest } from '../core/results';
import { describeError, WorkbenchError } from '../data/errors';
import type { PickedFile } from '../data/folder-intake';
import type { AnalysisWorkerApi, StoreWorkerApi, WriteResult } from '../../workers/clip-api';
import type { EngineState, UserError } from './engine.svelte';
import type { StorageState } from './storage.svelte';
import { ContentIndex, type IndexProgress } from './content-index.svelte';

/**
 * Images per call into the model worker. Posting a File costs the main thread about half a
 * millisecond (Chromium registers a blob reference per file), so chunks stay small enough that no
 * single post becomes a long task, and progress and cancel stay responsive.
 */
const CHUNK = 32;
/** Work bound (n·C·T·dim multiply-adds) for the per-template table before it samples images. */
const TEMPLATE_BUDGET = 3e9;
/** Image embeddings kept in memory across runs; beyond this the memory copy starts afresh (IndexedDB keeps all). */
const MEMO_MAX_IMAGES = 200_000;

interface Memo {
  vision: string;
  text: string;
  images: Map<string, Float32Array>;
  texts: Map<string, Float32Array>;
}

export type RunPhase = 'idle' | 'texts' | 'hashing' | 'images' | 'scoring' | 'done';

export interface Progress {
  phase: RunPhase;
  label: string;
  unit: string;
  done: number;
  total: number;
  startedAt: number;
}

export interface Dataset {
  name: string;
  entries: PickedFile[];
  layout: ImageFolderLayout;
}

export type TemplateChoice = keyof typeof TEMPLATE_PRESETS | 'custom';

declare const __APP_VERSION__: string;

async function readText(f: PickedFile): Promise<string> {
  return f.file.text();
}

export class ClassifyState {
  dataset = $state.raw<Dataset | null>(null);
  /** Prompt names per class folder (editable). */
  classNames = $state<string[]>([]);
  classNamesSource = $state('folder names');
  /** Folders that the class-name file did not name. */
  unmatched = $state.raw<string[]>([]);
  templateChoice = $state<TemplateChoice>('openai80');
  customTemplatesText = $state('');
  customTemplatesName = $state('custom');
  progress = $state<Progress | null>(null);
  running = $state(false);
  error = $state<UserError | null>(null);
  /** Problems with the folder's own files (bad classes.json…); shown, never fatal. */
  warnings = $state<string[]>([]);
  /** Images that failed during the current or last run, with reasons. */
  failed = $state.raw<Skipped[]>([]);
  run = $state.raw<ClassifyRun | null>(null);

  readonly templateSet = $derived.by((): { set: TemplateSet | null; error: string | null } => {
    if (this.templateChoice !== 'custom') return { set: presetSet(this.templateChoice), error: null };
    try {
      return {
        set: {
          name: this.customTemplatesName,
          templates: parseTemplates(this.customTemplatesText, this.customTemplatesName),
        },
        error: null,
      };
    } catch (e) {
      return { set: null, error: e instanceof Error ? e.message : String(e) };
    }
  });

  /** Use the IndexedDB cache (read and write). The bench's `--no-cache` turns it off for a cold run. */
  useCache = $state(true);
  /** Set when the cache refused writes (quota): the run continues in memory. */
  storageWarning = $state<string | null>(null);

  /** Embeddings held in memory, keyed by tower fingerprint and content hash / prompt. */
  private memo: Memo = { vision: '', text: '', images: new Map(), texts: new Map() };
  /** Content hashes of the picked files (the cache keys), begun at intake. */
  private contents = new ContentIndex();
  /** Cache writes of the current run, awaited before it reports. */
  private writes: Promise<void>[] = [];
  private analysis: Comlink.Remote<AnalysisWorkerApi> | null = null;

  private store: Comlink.Remote<StoreWorkerApi>;

  constructor(
    private engine: EngineState,
    private storage: StorageState,
  ) {
    this.store = storage.store;
    this.contents.onProgress = (done) => {
      if (this.progress?.phase === 'hashing') this.progress.done = done;
    };
  }

  /** Progress of hashing the picked folder (shown under the dataset summary); `ms` once done. */
  get indexing(): IndexProgress | null {
    return this.contents.progress;
  }

  private analysisApi(): Comlink.Remote<AnalysisWorkerApi> {
    if (!this.analysis) {
      // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
      const worker = new Worker(new URL('../../workers/analysis.worker.ts', import.meta.url), { type: 'module' });
      this.analysis = Comlink.wrap<AnalysisWorkerApi>(worker);
    }
    return this.analysis;
  }

  /** Take a picked or dropped folder: find classes, images and the optional name/template files. */
  async setFolder(entries: PickedFile[]): Promise<void> {
    const layout = readImageFolder(entries.map((e) => ({ path: e.path, type: e.file.type })));
    this.warnings = [];
    this.run = null;
    this.failed = [];
    this.error = null;
    if (layout.classes.length < 2) {
      this.dataset = null;
      this.error = {
        code: 'bad-input',
        message:
          layout.classes.length === 0
            ? 'No images in class folders were found. Pick a folder with one subfolder per class (the ImageFolder layout).'
            : `Only one class folder (“${layout.classes[0]}”) was found; pick the folder that holds the class folders.`,
      };
      return;
    }
    const name = layout.root.split('/').pop() || 'dropped folder';
    this.dataset = { name, entries, layout };
    this.contents.start(layout.images.map((im) => entries[im.entry]!.file));
    await this.applyClassNameFile();
    if (layout.templatesTxt !== null) {
      const f = entries[layout.templatesTxt]!;
      this.customTemplatesText = await readText(f);
      this.customTemplatesName = 'templates.txt';
      this.templateChoice = 'custom';
      if (this.templateSet.error) this.warnings.push(this.templateSet.error);
    }
  }

  private async applyClassNameFile(): Promise<void> {
    const d = this.dataset;
    if (!d) return;
    const idx = d.layout.classesJson ?? d.layout.classnamesTxt;
    const file = idx !== null ? d.entries[idx]! : null;
    const fileName = file ? (file.path.split('/').pop() ?? file.path) : '';
    try {
      const r = classNamesFrom(d.layout.classes, file ? { name: fileName, text: await readText(file) } : null);
      this.classNames = r.names;
      this.unmatched = r.unmatched;
      this.classNamesSource = file ? fileName : 'folder names';
    } catch (e) {
      this.classNames = classNamesFrom(d.layout.classes, null).names;
      this.unmatched = [];
      this.classNamesSource = 'folder names';
      this.warnings.push(`${e instanceof Error ? e.message : String(e)} Using the folder names instead.`);
    }
  }

  /** Replace the class names with those of a classes.json / classnames.txt the user picks. */
  async importClassNames(file: File): Promise<void> {
    const d = this.dataset;
    if (!d) return;
    try {
      const r = classNamesFrom(d.layout.classes, { name: file.name, text: await file.text() });
      this.classNames = r.names;
      this.unmatched = r.unmatched;
      this.classNamesSource = file.name;
    } catch (e) {
      this.error = describeError(e);
    }
  }

  async importTemplates(file: File): Promise<void> {
    this.customTemplatesText = await file.text();
    this.customTemplatesName = file.name;
    this.templateChoice = 'custom';
  }

  setTemplateChoice(choice: string): void {
    if (choice === 'custom' || isPresetId(choice)) this.templateChoice = choice;
  }

  cancel(): void {
    this.engine.cancel();
  }

  private memoFor(vision: string, text: string) {
    if (this.memo.vision !== vision || this.memo.images.size > MEMO_MAX_IMAGES) {
      this.memo.vision = vision;
      this.memo.images = new Map();
    }
    if (this.memo.text !== text) this.memo = { ...this.memo, text, texts: new Map() };
    return this.memo;
  }

  /** Record a write's outcome: a refused write (quota) turns into the visible in-memory warning. */
  private noteWrite(p: Promise<WriteResult>): Promise<void> {
    return p.then((r) => {
      if (!r.stored && this.storageWarning === null) {
        this.storageWarning =
          `${r.message ?? 'Embeddings could not be stored.'} The run continues in memory and its results are ` +
          'complete, but new embeddings will not be cached for next time. Free space in the Storage tab.';
      }
    });
  }

  /**
   * Content hashes of the images and their cached embeddings. Hashing starts when the folder is
   * picked and runs on the main thread: reading a File is asynchronous and hashing it takes
   * microseconds, while posting thousands of Files to a worker would cost the main thread more. The
   * IndexedDB read happens in the cache worker, in one bulk transaction.
   */
  private async lookupImages(
    memo: Memo,
    blobs: Blob[],
    dim: number,
  ): Promise<{ hashes: (string | null)[]; unreadable: Map<number, string>; hashMs: number; readMs: number }> {
    const t0 = performance.now();
    const { hashes, unreadable } = await this.contents.hashesOf(blobs);
    const hashMs = performance.now() - t0;
    const missing = [...new Set(hashes.filter((h): h is string => h !== null && !memo.images.has(h)))];
    if (!this.useCache || missing.length === 0) return { hashes, unreadable, hashMs, readMs: 0 };
    const got = await this.store.readImages(memo.vision, dim, missing);
    missing.forEach((h, k) => got.found[k] && memo.images.set(h, got.embeddings.slice(k * dim, (k + 1) * dim)));
    return { hashes, unreadable, hashMs, readMs: got.readMs };
  }

  /** Prompt embeddings from memory, then the cache, then the text encoder (new ones are cached). */
  private async promptEmbeddings(memo: Memo, prompts: string[], dim: number, cache: CacheStats): Promise<Float32Array> {
    const unique = [...new Set(prompts)];
    let todo = unique.filter((p) => !memo.texts.has(p));
    if (this.useCache && todo.length > 0) {
      const got = await this.store.lookupTexts(memo.text, dim, todo);
      todo.forEach((p, i) => got.found[i] && memo.texts.set(p, got.embeddings.slice(i * dim, (i + 1) * dim)));
      todo = todo.filter((p) => !memo.texts.has(p));
    }
    cache.text_hits = unique.length - todo.length;
    cache.text_misses = todo.length;
    if (todo.length > 0) {
      this.progress = {
        phase: 'texts',
        label: 'Encoding prompts',
        unit: 'prompts',
        done: 0,
        total: todo.length,
        startedAt: performance.now(),
      };
      const emb = await this.engine.embedTexts(todo, (p) => this.progress && (this.progress.done = p.done));
      todo.forEach((p, i) => memo.texts.set(p, emb.slice(i * dim, (i + 1) * dim)));
      if (this.useCache) {
        this.writes.push(
          this.noteWrite(this.store.storeTexts(memo.text, todo, Comlink.transfer(emb, [emb.buffer]), dim)),
        );
      }
    }
    const out = new Float32Array(prompts.length * dim);
    prompts.forEach((p, i) => out.set(memo.texts.get(p)!, i * dim));
    return out;
  }

  /**
   * Run the evaluation. Embeddings come from memory or the IndexedDB cache when this model already
   * computed them (keyed by content, not file name); only the rest is encoded, and cached as it goes,
   * so a reload mid-run loses nothing.
   */
  async start(limit = Infinity): Promise<boolean> {
    const d = this.dataset;
    const info = this.engine.info;
    const set = this.templateSet.set;
    if (!d || !info || this.engine.status !== 'ready' || this.running) return false;
    if (!set) {
      this.error = { code: 'bad-input', message: this.templateSet.error ?? 'No templates.' };
      return false;
    }
    this.running = true;
    this.error = null;
    this.failed = [];
    this.storageWarning = null;
    this.writes = [];
    const tStart = performance.now();
    // Cache keys: the tower fingerprints, plus the backend (WebGPU and WASM agree to about 1e-3, not
    // exactly, and a run must be reproducible on the backend it reports) and the resize mode.
    const visionKey = `${info.fingerprints.vision}:${info.backend}${this.engine.resizeMode === 'pil' ? '' : ':browser-resize'}`;
    const memo = this.memoFor(visionKey, `${info.fingerprints.text}:${info.backend}`);
    const classes = d.layout.classes;
    const classNames = [...this.classNames];
    const images = Number.isFinite(limit) ? d.layout.images.slice(0, limit) : d.layout.images;
    const blobs = images.map((im) => d.entries[im.entry]!.file);
    const dim = info.embeddingDim;
    const cache: CacheStats = { enabled: this.useCache, image_hits: 0, image_misses: 0, text_hits: 0, text_misses: 0 };
    const runId = crypto.randomUUID();
    let runRecorded = false;
    try {
      if (this.useCache) {
        for (const [fingerprint, tower] of [
          [visionKey, 'vision'],
          [memo.text, 'text'],
        ] as const) {
          this.writes.push(this.noteWrite(this.store.touchModel({ fingerprint, tower, label: info.id, dim })));
        }
      }
      // 1. Finish hashing the images (begun at intake) and read the cache while the prompts are encoded.
      const lookup = this.lookupImages(memo, blobs, dim);
      lookup.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      const t0 = performance.now();
      const promptEmb = await this.promptEmbeddings(memo, promptGrid(classNames, set.templates), dim, cache);
      const embedTextsMs = performance.now() - t0;
      this.progress = {
        phase: 'hashing',
        label: 'Checking the embedding cache',
        unit: 'files',
        done: this.indexing?.done ?? 0,
        total: this.indexing?.total ?? images.length,
        startedAt: t0,
      };
      const { hashes, unreadable, hashMs, readMs } = await lookup;

      // 2. Encode the images nothing has embedded yet (each distinct content once), in chunks.
      const failed: Skipped[] = [];
      const todo: number[] = [];
      const queued = new Set<string>();
      images.forEach((im, i) => {
        const h = hashes[i];
        if (h === null || h === undefined)
          failed.push({ file: im.path, reason: unreadable.get(i) ?? 'it could not be read' });
        else if (!memo.images.has(h) && !queued.has(h)) {
          queued.add(h);
          todo.push(i);
        }
      });
      let stored = images.length - failed.length - todo.length;
      if (this.useCache && todo.length > 0) {
        const r = await this.store.beginRun({
          id: runId,
          dataset: d.name,
          modelLabel: info.id,
          visionModel: visionKey,
          totalImages: images.length,
          storedImages: stored,
          startedAt: Date.now(),
          updatedAt: Date.now(),
        });
        runRecorded = r.stored;
      }
      const t1 = performance.now();
      this.progress = {
        phase: 'images',
        label: 'Encoding images',
        unit: 'images',
        done: images.length - todo.length,
        total: images.length,
        startedAt: t1,
      };
      this.failed = [...failed];
      for (let s = 0; s < todo.length; s += CHUNK) {
        const chunk = todo.slice(s, s + CHUNK);
        const res = await this.engine.embedImages(chunk.map((i) => ({ name: images[i]!.path, blob: blobs[i]! })));
        const bad = new Map(res.failed.map((f) => [f.index, f.reason]));
        const okRows: number[] = [];
        chunk.forEach((i, k) => {
          const reason = bad.get(k);
          if (reason !== undefined) failed.push({ file: images[i]!.path, reason });
          else {
            memo.images.set(hashes[i]!, res.embeddings.slice(k * dim, (k + 1) * dim));
            okRows.push(k);
          }
        });
        cache.image_misses += okRows.length;
        stored += okRows.length;
        if (this.useCache && okRows.length > 0) {
          const packed = new Float32Array(okRows.length * dim);
          okRows.forEach((k, j) => packed.set(res.embeddings.subarray(k * dim, (k + 1) * dim), j * dim));
          const write = this.store.storeImages(
            visionKey,
            okRows.map((k) => hashes[chunk[k]!]!),
            Comlink.transfer(packed, [packed.buffer]),
            dim,
            runRecorded ? { id: runId, storedImages: stored } : undefined,
          );
          this.writes.push(this.noteWrite(write));
        }
        if (bad.size > 0) this.failed = [...failed];
        if (this.progress) this.progress.done += chunk.length;
      }
      const embedImagesMs = performance.now() - t1;

      // 3. Scoring and metrics in the analysis worker.
      this.progress = {
        phase: 'scoring',
        label: 'Scoring',
        unit: 'steps',
        done: 0,
        total: 1,
        startedAt: performance.now(),
      };
      const t2 = performance.now();
      const scoredIdx = images.map((_, i) => i).filter((i) => hashes[i] && memo.images.has(hashes[i]!));
      cache.image_hits = scoredIdx.length - cache.image_misses;
      const imageEmb = new Float32Array(scoredIdx.length * dim);
      scoredIdx.forEach((i, r) => imageEmb.set(memo.images.get(hashes[i]!)!, r * dim));
      const labels = Int32Array.from(scoredIdx.map((i) => images[i]!.label));
      if (scoredIdx.length === 0)
        throw new WorkbenchError('bad-input', 'None of the images could be read, so there is nothing to score.');
      const result = await this.analysisApi().score(
        Comlink.transfer(
          {
            images: imageEmb,
            labels,
            prompts: promptEmb,
            numClasses: classes.length,
            numTemplates: set.templates.length,
            dim,
            logitScale: info.logitScale,
            templateBudget: TEMPLATE_BUDGET,
          },
          [imageEmb.buffer, promptEmb.buffer],
        ),
      );
      const scoreMs = performance.now() - t2;
      await Promise.all(this.writes);
      if (this.useCache) await this.noteWrite(this.store.touchDataset(visionKey, d.name, new Set(hashes).size));
      if (this.useCache) {
        // This run covered any earlier run of the same folder and model that a reload interrupted.
        for (const r of await this.store.openRuns()) {
          if (r.dataset === d.name && r.visionModel === visionKey) await this.store.endRun(r.id);
        }
      }
      this.run = {
        manifest: await this.manifest(set),
        classes,
        classNames,
        totalImages: images.length,
        failed,
        skipped: d.layout.skipped,
        files: scoredIdx.map((i) => images[i]!.path),
        labels,
        metrics: result.metrics,
        predictions: result.predictions,
        perTemplate: result.perTemplate,
        perTemplateImages: result.perTemplateImages,
        timing: {
          model_load_ms: Math.round(this.engine.loadMs),
          total_ms: Math.round(performance.now() - tStart),
          embed_images_ms: Math.round(embedImagesMs),
          embed_texts_ms: Math.round(embedTextsMs),
          hash_ms: Math.round(hashMs),
          index_ms: this.indexing?.ms != null ? Math.round(this.indexing.ms) : null,
          cache_read_ms: Math.round(readMs),
          score_ms: Math.round(scoreMs),
        },
        cache,
        cacheWarning: this.storageWarning,
      };
      this.progress = null;
      return true;
    } catch (e) {
      this.error = describeError(e);
      this.progress = null;
      return false;
    } finally {
      // Finished, cancelled or failed: the run is no longer one to resume after a reload.
      if (runRecorded) await this.store.endRun(runId).catch(() => undefined);
      this.running = false;
      void this.storage.refresh();
    }
  }

  /** What the run was: app, model (with file hashes), backend, preprocessing and templates. */
  private async manifest(set: TemplateSet): Promise<RunManifest> {
    const info = this.engine.info!;
    return {
      app_version: __APP_VERSION__,
      date: new Date().toISOString(),
      model: {
        id: info.id,
        origin: info.origin,
        files: await this.engine.fileHashes(),
        logit_scale: info.logitScale,
        logit_scale_source: info.logitScaleSource,
        embedding_dim: info.embeddingDim,
      },
      backend: info.backend,
      dtype: info.dtype,
      preprocessing: { resize: this.engine.resizeMode === 'pil' ? 'pil-bicubic-exact' : 'browser', ...info.preprocess },
      templates: { name: set.name, count: set.templates.length, list: set.templates },
    };
  }

  resultsJson(): Record<string, unknown> | null {
    return this.run ? resultsJson(this.run) : null;
  }

  predictionsCsv(): string | null {
    return this.run ? predictionsCsv(this.run) : null;
  }
}
