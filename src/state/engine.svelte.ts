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
} from '../../workers/clip-api';
import type { ImageItem, ImageEmbeddingResult } from '../../workers/clip-api';
import type { ModelSource, Dtype } from '../data/model-files';
import { describeError, type WorkbenchErrorCode } from '../data/errors';

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

  private api: Comlink.Remote<ClipWorkerApi>;
  private worker: Worker;

  constructor() {
    // Vite bundles the worker from this exact `new URL(…, import.meta.url)` form.
    this.worker = new Worker(new URL('../../workers/clip.worker.ts', import.meta.url), { type: 'module' });
    this.api = Comlink.wrap<ClipWorkerApi>(this.worker);
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

  listDtypes(source: ModelSource): Promise<Dtype[]> {
    return this.api.listDtypes(source);
  }

  async load(source: ModelSource, backend: BackendChoice, dtype: DtypeChoice): Promise<boolean> {
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
        { backend, dtype },
        Comlink.proxy(onProgress),
        Comlink.proxy((m: string) => this.notify(m)),
      );
      this.loadMs = performance.now() - this.loadStartedAt;
      this.generation += 1;
      this.status = 'ready';
      return true;
    } catch (e) {
      this.fail(e);
      this.info = null;
      return false;
    }
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

  /** Images and texts the model worker has encoded since the page opened (tests count them). */
  encodeCounts(): Promise<{ images: number; texts: number }> {
    return this.api.encodeCounts();
  }

  /** Testing hook, reachable from automation: destroy the GPU device under the running model. */
  loseDeviceForTesting(): Promise<boolean> {
    return this.api.loseDeviceForTesting();
  }
}
