/**
 * Zero-shot classification of an ImageFolder: intake, class names, templates, the run (texts, then
 * images in chunks, then scoring in the analysis worker) and its results. The bench drives exactly
 * this object through the page, so the UI and the bench share one implementation.
 */
import * as Comlink from 'comlink';
import { classNamesFrom, readImageFolder, type ImageFolderLayout, type Skipped } from '../core/image-folder';
import { classNamesOf, layoutProblem, type LabelMetadata } from './folder-labels';
import { findMetadataFile, LABEL_COLUMNS, metadataLabels, parseMetadataFile, recognised } from '../data/metadata';
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
import type { AnalysisWorkerApi } from '../../workers/clip-api';
import type { EngineState, UserError } from './engine.svelte';
import type { StorageState } from './storage.svelte';
import { hashingStep, type IndexProgress } from './content-index.svelte';
import { EmbeddingCache } from './embedding-cache.svelte';
import { abortable, encodeMissingImages, encodePrompts } from './image-encoding';
import { importedLookup } from './imported-embeddings.svelte';
import { createAnalysisWorker, modelManifest, towerKeys } from './run-context';
import { nextTask } from '../core/next-task';

/** Work bound (n·C·T·dim multiply-adds) for the per-template table before it samples images. */
const TEMPLATE_BUDGET = 3e9;
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
  /** For a folder without class subfolders: the metadata file its labels come from, if any. */
  labelMetadata = $state.raw<LabelMetadata | null>(null);
  /** The picked folder has no class subfolders (every image directly in it). */
  flatFolder = $state(false);
  /**
   * Where a folder with subfolders takes its labels: the class folders (default), or the label column of
   * its metadata file (subfolders that are not classes, such as Dollar Street's one folder per photo).
   */
  labelsFrom = $state<'folders' | 'metadata'>('folders');
  /** The files last picked (kept so a metadata file or label column chosen later can relabel them). */
  private picked: PickedFile[] = [];
  /** A metadata file beside the images that could not be read (shown as a warning). */
  private metadataWarning: string | null = null;

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

  /** Embeddings in memory and in the IndexedDB cache. */
  private cache: EmbeddingCache;
  private analysis: Comlink.Remote<AnalysisWorkerApi> | null = null;
  /** Cancels the running run (each run has its own). */
  private abort: AbortController | null = null;

  constructor(
    private engine: EngineState,
    private storage: StorageState,
  ) {
    this.cache = new EmbeddingCache(storage.store);
    this.cache.contents.onProgress = (p) => {
      if (this.progress?.phase === 'hashing') Object.assign(this.progress, hashingStep(p, p.total));
    };
  }

  /** Progress of hashing the picked folder (shown under the dataset summary); `ms` once done. */
  get indexing(): IndexProgress | null {
    return this.cache.contents.progress;
  }

  /** Use the IndexedDB cache (read and write). The bench's `--no-cache` turns it off for a cold run. */
  get useCache(): boolean {
    return this.cache.enabled;
  }
  set useCache(on: boolean) {
    this.cache.enabled = on;
  }

  /** Set when the cache refused writes (quota): the run continues in memory. */
  get storageWarning(): string | null {
    return this.cache.warning;
  }

  private analysisApi(): Comlink.Remote<AnalysisWorkerApi> {
    return (this.analysis ??= createAnalysisWorker(this.storage.store));
  }

  /**
   * Take a picked or dropped folder: find classes, images and the optional name/template files.
   * Classes come from the class subfolders; a flat folder (images directly in it) takes them from the
   * label column of a metadata file beside the images (or one picked later, `useLabelMetadata`).
   */
  async setFolder(entries: PickedFile[]): Promise<void> {
    this.picked = entries;
    this.labelMetadata = null;
    this.metadataWarning = null;
    this.labelsFrom = 'folders';
    const files = entries.map((e) => ({ path: e.path, type: e.file.type }));
    const folderLayout = readImageFolder(files);
    this.flatFolder = folderLayout.flat;
    // A task boundary after the layout (a 50,000-file folder: about 100 ms of the main thread on 2 cores),
    // so the page can paint before the metadata lookup and the labelling that follow.
    await nextTask();
    if (this.picked !== entries) return; // another folder was picked meanwhile
    const i = findMetadataFile(entries.map((e) => e.path));
    if (i !== null) {
      const f = entries[i]!;
      try {
        const table = parseMetadataFile(f.path.split('/').pop() ?? f.path, await f.file.text());
        this.labelMetadata = { table, origin: 'beside the images', column: null };
      } catch (e) {
        // A flat folder needs it for its labels; beside class folders the Slices view reports it.
        if (folderLayout.flat) this.metadataWarning = describeError(e).message;
      }
    }
    // Subfolders that give fewer than two classes (Dollar Street's assets/<id>/…) with a metadata file
    // beside them: the labels come from the file unless the user says otherwise.
    if (!folderLayout.flat && this.labelMetadata && folderLayout.classes.length < 2) this.labelsFrom = 'metadata';
    // The layout just read holds unless a metadata file now labels the folder.
    await this.relabel(this.labelledByMetadata ? undefined : folderLayout);
  }

  /** Labels come from the metadata: always for a flat folder, by choice for one with subfolders. */
  private get labelledByMetadata(): boolean {
    return this.labelMetadata !== null && (this.flatFolder || this.labelsFrom === 'metadata');
  }

  /** A folder with subfolders: take the labels from its class folders or from its metadata file. */
  async setLabelsFrom(from: 'folders' | 'metadata'): Promise<void> {
    this.labelsFrom = from;
    await this.relabel();
  }

  /** Label the picked flat folder with a metadata file the user picks (the bench's `--metadata`). */
  async importLabelMetadata(file: File): Promise<boolean> {
    return this.useLabelMetadata(file.name, await file.text());
  }

  /** As `importLabelMetadata`, from the file's name and text. Errors name the file. */
  async useLabelMetadata(name: string, text: string, column: string | null = null): Promise<boolean> {
    try {
      this.labelMetadata = { table: parseMetadataFile(name, text), origin: 'picked', column };
      // A label file picked for a folder with subfolders means: labels from it, not from the folders.
      this.labelsFrom = 'metadata';
    } catch (e) {
      this.error = describeError(e);
      return false;
    }
    await this.relabel();
    return this.dataset !== null;
  }

  /** Take the labels of a flat folder from another column of its metadata file. */
  async setLabelColumn(column: string): Promise<void> {
    if (!this.labelMetadata) return;
    this.labelMetadata = { ...this.labelMetadata, column };
    await this.relabel();
  }

  /** The label column in force for a flat folder's metadata (chosen, else recognised by name). */
  get labelColumn(): string | null {
    const m = this.labelMetadata;
    return m ? (m.column ?? recognised(m.table.columns, LABEL_COLUMNS)) : null;
  }

  /** Lay out the picked files: class folders, or a flat folder labelled by its metadata. */
  private async relabel(read?: ImageFolderLayout): Promise<void> {
    const entries = this.picked;
    const meta = this.labelMetadata;
    const column = this.labelColumn;
    const layout =
      read ??
      readImageFolder(
        entries.map((e) => ({ path: e.path, type: e.file.type })),
        meta && column && this.labelledByMetadata ? metadataLabels(meta.table, column) : undefined,
      );
    this.flatFolder = layout.flat;
    this.warnings = this.metadataWarning ? [this.metadataWarning] : [];
    this.run = null;
    this.failed = [];
    this.error = null;
    if (layout.classes.length < 2) {
      this.dataset = null;
      this.error = {
        code: 'bad-input',
        message: layoutProblem(layout, this.labelledByMetadata ? this.labelMetadata : null),
      };
      return;
    }
    const name = layout.root.split('/').pop() || 'dropped folder';
    // Read the class-name file before showing the folder, so the dataset and its names appear
    // together and a run can never start with the previous folder's names.
    // A task boundary after laying out the folder, so a 50,000-file pick is two tasks, not one long one.
    await nextTask();
    const names = await classNamesOf(entries, layout);
    if (names.warning) this.warnings.push(names.warning);
    this.dataset = { name, entries, layout };
    this.classNames = names.names;
    this.unmatched = names.unmatched;
    this.classNamesSource = names.source;
    this.cache.contents.start(layout.images.map((im) => entries[im.entry]!.file));
    if (layout.templatesTxt !== null) {
      const f = entries[layout.templatesTxt]!;
      this.customTemplatesText = await readText(f);
      this.customTemplatesName = 'templates.txt';
      this.templateChoice = 'custom';
      if (this.templateSet.error) this.warnings.push(this.templateSet.error);
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

  /** Cancel the run in whatever phase it is (hashing, cache read, prompts, decoding, inference). */
  cancel(): void {
    this.abort?.abort();
    this.engine.cancel();
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
    this.abort = new AbortController();
    const signal = this.abort.signal;
    const tStart = performance.now();
    const keys = towerKeys(this.engine);
    const visionKey = keys.vision;
    this.cache.begin(visionKey, keys.text, info.id, info.embeddingDim);
    const classes = d.layout.classes;
    const classNames = [...this.classNames];
    const images = Number.isFinite(limit) ? d.layout.images.slice(0, limit) : d.layout.images;
    const blobs = images.map((im) => d.entries[im.entry]!.file);
    const dim = info.embeddingDim;
    const stats: CacheStats = { enabled: this.useCache, image_hits: 0, image_misses: 0, text_hits: 0, text_misses: 0 };
    try {
      // 1. Finish hashing the images (begun at intake) and read the cache while the prompts are encoded.
      // Issue 16: embeddings imported from elsewhere answer for their entries instead of hashing and encoding.
      const lookup = importedLookup(blobs, this.cache, dim) ?? this.cache.lookupImages(blobs, dim);
      lookup.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      const t0 = performance.now();
      const texts = await encodePrompts(
        this.engine,
        this.cache,
        promptGrid(classNames, set.templates),
        (total) => {
          this.progress = {
            phase: 'texts',
            label: 'Encoding prompts',
            unit: 'prompts',
            done: 0,
            total,
            startedAt: performance.now(),
          };
        },
        (done) => this.progress && (this.progress.done = done),
      );
      stats.text_hits = texts.hits;
      stats.text_misses = texts.misses;
      const embedTextsMs = performance.now() - t0;
      this.progress = { phase: 'hashing', ...hashingStep(this.indexing, images.length) };
      const found = await abortable(lookup, signal);
      const { hashes, hashMs, readMs } = found;

      // 2. Encode the images nothing has embedded yet (each distinct content once), in chunks.
      const encodedImages = await encodeMissingImages({
        engine: this.engine,
        cache: this.cache,
        paths: images.map((im) => im.path),
        blobs,
        lookup: found,
        signal,
        run: { dataset: d.name, modelLabel: info.id, visionModel: visionKey },
        onStart: (done, total) => {
          this.progress = {
            phase: 'images',
            label: 'Encoding images',
            unit: 'images',
            done,
            total,
            startedAt: performance.now(),
          };
        },
        onChunk: (n, failed) => {
          if (failed.length !== this.failed.length) this.failed = [...failed];
          if (this.progress) this.progress.done += n;
        },
      });
      const failed = encodedImages.failed;
      const notes = encodedImages.notes;
      stats.image_misses = encodedImages.encoded;
      const embedImagesMs = encodedImages.ms;

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
      const scoredIdx = images.map((_, i) => i).filter((i) => hashes[i] && this.cache.has(hashes[i]!));
      stats.image_hits = scoredIdx.length - stats.image_misses;
      const labels = Int32Array.from(scoredIdx.map((i) => images[i]!.label));
      // Metadata labels that list several acceptable classes are scored "any of" (see creditedLabels).
      const accepted = images.some((im) => im.accepted) ? scoredIdx.map((i) => images[i]!.accepted ?? null) : undefined;
      if (scoredIdx.length === 0)
        throw new WorkbenchError('bad-input', 'None of the images could be read, so there is nothing to score.');
      // Image and prompt rows go from the cache worker to the analysis worker; this thread only names them.
      const result = await this.analysisApi().score({
        images: this.cache.rows(scoredIdx.map((i) => hashes[i]!)),
        labels,
        accepted,
        prompts: texts.rows,
        numClasses: classes.length,
        numTemplates: set.templates.length,
        dim,
        scoring: $state.snapshot(this.engine.scoring!),
        templateBudget: TEMPLATE_BUDGET,
      });
      const scoreMs = performance.now() - t2;
      await this.cache.finish(d.name, new Set(hashes).size);
      this.run = {
        manifest: await this.manifest(set),
        classes,
        classNames,
        totalImages: images.length,
        failed,
        notes,
        skipped: d.layout.skipped,
        labelSource: d.layout.labelSource,
        files: scoredIdx.map((i) => images[i]!.path),
        labels: result.labels,
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
      // Finished, cancelled or failed: the run is no longer one to resume after a reload.
      await this.cache.endRun();
      this.running = false;
      void this.storage.refresh();
    }
  }

  /** What the run was: app, model (with file hashes), backend, preprocessing and templates. */
  private async manifest(set: TemplateSet): Promise<RunManifest> {
    return {
      ...(await modelManifest(this.engine)),
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
