/**
 * The model worker as reactive state: which model is loaded, on which backend, download progress,
 * errors and notices. The UI reads this and calls its methods; it never touches the worker itself.
 */
import * as Comlink from 'comlink';
import type {
  ClipWorkerApi,
  FileProgress,
  ModelInfo,
  BackendChoice,
  DtypeChoice,
  EmbedProgress,
  TextTowerInfo,
} from '../../workers/clip-api';
import type { ImageItem, ImageEmbeddingResult } from '../../workers/clip-api';
import type { ModelSource, DtypeOption } from '../data/model-files';
import { describeError, WorkbenchError, type WorkbenchErrorCode } from '../data/errors';
import { rememberDecision, rememberedDecisions } from './backend-memory';
import { hasProbabilities, withUserScalars, type Scoring } from '../core/model-family';
import type { TowerRead } from '../engine/tower-files';

/** Scoring scalars typed by the user, per model id (kept in localStorage: SigLIP exports carry none). */
type UserScalars = Record<string, { scale: number | null; bias: number | null }>;
const SCALARS_KEY = 'zsw-scoring-scalars-v1';

function loadUserScalars(): UserScalars {
  try {
    return JSON.parse(globalThis.localStorage?.getItem(SCALARS_KEY) ?? '{}') as UserScalars;
  } catch {
    return {};
  }
}

/**
 * `?gpuBatch=N` in the page URL: images per WebGPU batch instead of Auto's timed size (the bench compares
 * sizes end to end with it). Undefined when absent or not a whole number from 1 to 64.
 */
function gpuBatchFromUrl(): number | undefined {
  const n = Number(new URLSearchParams(globalThis.location?.search ?? '').get('gpuBatch'));
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : undefined;
}

export type EngineStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface ServedModel {
  name: string;
  files: string[];
}

export interface UserError {
  code: WorkbenchErrorCode;
  message: string;
}

export class EngineState {
  status = $state<EngineStatus>('idle');
  info = $state.raw<ModelInfo | null>(null);
  /** Per-file download progress of the current load, in request order. */
  files = $state<FileProgress[]>([]);
  error = $state<UserError | null>(null);
  notices = $state<string[]>([]);
  servedModels = $state.raw<ServedModel[]>([]);
  loadStartedAt = $state(0);
  /** Milliseconds the last successful load took. */
  loadMs = $state(0);
  /** Increments with every successful load: embeddings of an older generation belong to another model. */
  generation = $state(0);
  /** 'pil' reproduces Pillow's bicubic resize exactly; 'browser' is the faster, inexact option. */
  resizeMode = $state<'pil' | 'browser'>('pil');
  /** Scale and bias the user entered, per model id. */
  userScalars = $state<UserScalars>(loadUserScalars());
  /**
   * The scoring every view and run uses: the model's (config.json, known table or family default) with the
   * user's entries on top. Ranks never depend on it; probabilities and calibration do.
   */
  readonly scoring = $derived.by((): Scoring | null => {
    const info = this.info;
    if (!info) return null;
    return withUserScalars(info.scoring, this.userScalars[info.id] ?? {});
  });
  /** Whether probabilities can be shown (false for SigLIP until its scale and bias are known). */
  readonly hasProbabilities = $derived(this.scoring !== null && hasProbabilities(this.scoring));

  private api!: Comlink.Remote<ClipWorkerApi>;
  private lastLoad: { source: ModelSource; dtype: DtypeChoice } | null = null;
  private worker!: Worker;
  /** Encodes counted by model workers this page has replaced (a GPU loss rebuilds the model in a new one). */
  private countBase = { images: 0, texts: 0 };
  /** Listeners told when the model worker is replaced (the decode pool rewires to the new one). */
  private onReplace: (() => void)[] = [];

  constructor() {
    this.startWorker();
  }

  private startWorker(): void {
    // Vite bundles the worker from this exact `new URL(…, import.meta.url)` form.
    this.worker = new Worker(new URL('../../workers/clip.worker.ts', import.meta.url), { type: 'module' });
    this.api = Comlink.wrap<ClipWorkerApi>(this.worker);
  }

  /** Call `f` whenever the model worker is replaced. */
  onWorkerReplaced(f: () => void): void {
    this.onReplace.push(f);
  }

  /**
   * After a GPU loss left the model worker's runtime unable to run (a batch was in flight on the lost
   * device; onnxruntime-web never settles it), load the same model and weights on WASM in a fresh worker.
   * Same model, same generation: a run in progress carries on with the images not yet embedded.
   */
  async restartOnWasm(): Promise<void> {
    const l = this.lastLoad;
    const before = this.info;
    if (!l || !before) throw new WorkbenchError('internal', 'No model to reload after the GPU loss.');
    const old = await Promise.race([
      this.api.encodeCounts(),
      new Promise<null>((r) => setTimeout(() => r(null), 1000)),
    ]).catch(() => null);
    if (old) this.countBase = { images: this.countBase.images + old.images, texts: this.countBase.texts + old.texts };
    this.worker.terminate();
    this.startWorker();
    this.onReplace.forEach((f) => f());
    const info = await this.api.load(
      l.source,
      { backend: 'wasm', dtype: before.dtype, remembered: {}, remeasure: false },
      Comlink.proxy(() => undefined),
      Comlink.proxy((m: string) => this.notify(m)),
    );
    this.info = info;
    this.notices.push(
      'The GPU device was lost while a batch was running on it; the model was reloaded on WASM (CPU) in a new ' +
        'worker and the run goes on from the images not yet embedded, more slowly.',
    );
  }

  /** Set (or clear, with null) the scale and bias of the loaded model; remembered for its id. */
  setScalars(scale: number | null, bias: number | null): void {
    const id = this.info?.id;
    if (!id) return;
    this.userScalars = { ...this.userScalars, [id]: { scale, bias } };
    try {
      globalThis.localStorage?.setItem(SCALARS_KEY, JSON.stringify(this.userScalars));
    } catch {
      // Storage full or blocked: the values still hold for this page.
    }
  }

  /** Models the app's own server offers (MODELS_DIR); empty on a static host. */
  async refreshServedModels(): Promise<void> {
    try {
      const res = await fetch('./models/index.json');
      const ct = res.headers.get('content-type') ?? '';
      this.servedModels = res.ok && ct.includes('json') ? ((await res.json()) as { models: ServedModel[] }).models : [];
    } catch {
      this.servedModels = [];
    }
  }

  /** Weight variants both towers have, with their download sizes (HEAD requests for URL sources). */
  listDtypes(source: ModelSource): Promise<DtypeOption[]> {
    return this.api.listDtypes(source);
  }

  /** Load a model; with `remeasure`, Auto times the backends again instead of using its remembered choice. */
  async load(source: ModelSource, backend: BackendChoice, dtype: DtypeChoice, remeasure = false): Promise<boolean> {
    this.lastLoad = { source, dtype };
    this.status = 'loading';
    this.error = null;
    this.files = [];
    this.notices = [];
    this.loadStartedAt = performance.now();
    const onProgress = (p: FileProgress) => {
      const i = this.files.findIndex((f) => f.file === p.file);
      if (i >= 0) this.files[i] = p;
      else this.files.push(p);
    };
    try {
      this.info = await this.api.load(
        source,
        { backend, dtype, remembered: rememberedDecisions(), remeasure, webgpuBatch: gpuBatchFromUrl() },
        Comlink.proxy(onProgress),
        Comlink.proxy((m: string) => this.notify(m)),
      );
      this.loadMs = performance.now() - this.loadStartedAt;
      rememberDecision(this.info.backendDecision);
      this.generation += 1;
      this.status = 'ready';
      return true;
    } catch (e) {
      this.fail(e);
      this.info = null;
      return false;
    }
  }

  /** Reload the last model on Auto, timing WebGPU and WASM again (the model card's "Time again"). */
  remeasure(): Promise<boolean> {
    const l = this.lastLoad;
    return l ? this.load(l.source, 'auto', l.dtype, true) : Promise.resolve(false);
  }

  /** A notice also refreshes `info`, since the backend may have changed (GPU lost → WASM). */
  private notify(message: string): void {
    this.notices.push(message);
    void this.api.info().then((i) => {
      if (i) this.info = i;
    });
  }

  private fail(e: unknown): void {
    const d = describeError(e);
    this.error = d;
    this.status = d.code === 'cancelled' ? 'idle' : 'error';
  }

  cancel(): void {
    void this.api.cancel();
  }

  embedTexts(texts: string[], onProgress?: (p: EmbedProgress) => void): Promise<Float32Array> {
    return this.api.embedTexts(texts, onProgress ? Comlink.proxy(onProgress) : undefined);
  }

  embedImages(items: ImageItem[], onProgress?: (p: EmbedProgress) => void): Promise<ImageEmbeddingResult> {
    return this.api.embedImages(items, this.resizeMode, onProgress ? Comlink.proxy(onProgress) : undefined);
  }

  /** SHA-256 of the loaded model's files, for run manifests. */
  fileHashes(): Promise<Record<string, string>> {
    return this.api.fileHashes();
  }

  /** The run pipeline's calls into the model worker (src/state/image-encoding.ts, decode-pool.ts). */
  get pipeline(): Pick<
    Comlink.Remote<ClipWorkerApi>,
    'connectDecoder' | 'connectStore' | 'openStream' | 'embedStream' | 'cancelStream' | 'embedTextsTo'
  > {
    return this.api;
  }

  /** Images and texts the model worker has encoded since the page opened (tests count them). */
  async encodeCounts(): Promise<{ images: number; texts: number }> {
    const c = await this.api.encodeCounts();
    return { images: this.countBase.images + c.images, texts: this.countBase.texts + c.texts };
  }

  /**
   * Milliseconds the model worker's runtime has spent in model calls, per model file, since the worker
   * started (the bench subtracts them from a run's wall time to see what the pipeline costs).
   */
  async runtimeMs(): Promise<Record<string, number>> {
    return (await this.api.encodeCounts()).runtimeMs;
  }

  /**
   * Whether the loaded model's text tower has a session now (on WASM not until the first text after the
   * load), and the milliseconds each one made after the load took; null without a model.
   */
  async textTower(): Promise<TextTowerInfo | null> {
    return (await this.api.encodeCounts()).textTower;
  }

  /** How the load read each tower's file: split as it was read (`pieces`) or whole; null without a model. */
  async loadedFrom(): Promise<Record<'text' | 'vision', TowerRead> | null> {
    return (await this.api.encodeCounts()).loadedFrom;
  }

  /** How the vision tower's WASM rebuild after a GPU loss read its file; null when there was none. */
  async visionRebuiltFrom(): Promise<TowerRead | null> {
    return (await this.api.encodeCounts()).visionRebuiltFrom;
  }

  /** Testing hook, reachable from automation: destroy the GPU device under the running model. */
  loseDeviceForTesting(): Promise<boolean> {
    return this.api.loseDeviceForTesting();
  }
}
