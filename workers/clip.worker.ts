/**
 * The model worker: loads a CLIP model and embeds images and texts. The main thread never decodes
 * images or runs inference; results come back as transferred Float32Array buffers (n×dim, unit rows).
 */
import * as Comlink from 'comlink';
import { ClipModel, type LoadOptions, type ModelInfo } from '../src/engine/clip-model';
import {
  probeBackends,
  runtimeBusyMs,
  setRuntimeGate,
  setWasmThreads,
  type BackendProbe,
} from '../src/engine/ort-engine';
import { ModelFiles, type FileProgress } from '../src/data/model-fetch';
import { type DtypeOption, type ModelSource } from '../src/data/model-files';
import { WorkbenchError, cancelledError } from '../src/data/errors';
import { decodeImage, type ResizeMode } from '../src/data/image-decode';
import { preprocessRgb } from '../src/core/preprocess';
import '../src/data/error-transfer';
import { listen, PixelStream, streams, type StreamBatch, type StreamProgress } from './pixel-stream';
import type { RowsMessage } from './row-memo';
import type { TowerRead } from '../src/engine/tower-files';

/** One image to embed: its bytes and a name (relative path) used in messages. */
export interface ImageItem {
  name: string;
  blob: Blob;
}

export interface ImageEmbeddingResult {
  /** n×dim, unit rows; rows of images that failed are all zero. */
  embeddings: Float32Array;
  dim: number;
  failed: { index: number; file: string; reason: string }[];
  /** The backend that made each row ('' for failed ones): it changes mid-call if the GPU device is lost. */
  backends: string[];
}

/**
 * Whether the text tower's session exists now, the milliseconds each session made after the load took,
 * and how each read its file (text-tower.ts).
 */
export interface TextTowerInfo {
  resident: boolean;
  loadMs: number[];
  loadedFrom: TowerRead[];
}

export interface EmbedProgress {
  done: number;
  total: number;
}

const TEXT_BATCH = 64;

let model: ClipModel | null = null;
let modelFiles: ModelFiles | null = null;
let hashes: Promise<Record<string, string>> | null = null;
let jobs = new AbortController();
/** Where streamed runs' rows go: the cache worker (see `connectStore`). */
let storePort: MessagePort | null = null;
/** How many images and texts went through the encoders since the worker started (tests count them). */
const encoded = { images: 0, texts: 0 };

function requireModel(): ClipModel {
  if (!model) throw new WorkbenchError('internal', 'No model is loaded yet.');
  return model;
}

function checkCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof WorkbenchError ? signal.reason : cancelledError();
}

/** Images per inference call on the backend the model now runs (a GPU loss moves it to WASM). */
function imageBatchSize(m: ClipModel): number {
  return m.info.imageBatch[m.info.backend];
}

const api = {
  probe(): Promise<BackendProbe> {
    return probeBackends();
  },

  /** The weight variants both towers have, with their download sizes. */
  listDtypes(source: ModelSource): Promise<DtypeOption[]> {
    return ClipModel.dtypeOptions(new ModelFiles(source));
  },

  async load(
    source: ModelSource,
    opts: LoadOptions,
    onProgress: (p: FileProgress) => void,
    onNotice: (message: string) => void,
  ): Promise<ModelInfo> {
    // A run still embedding with the previous model stops at its next batch, saying why.
    jobs.abort(
      new WorkbenchError(
        'model-mismatch',
        'The run stopped because another model was loaded while it ran. Run again to evaluate the new model.',
      ),
    );
    jobs = new AbortController();
    const signal = jobs.signal;
    const previous = model;
    model = null;
    await previous?.dispose();
    hashes = null;
    modelFiles = new ModelFiles(source, { digest: true });
    model = await ClipModel.load(modelFiles, opts, onProgress, onNotice, signal);
    return model.info;
  },

  info(): ModelInfo | null {
    return model?.info ?? null;
  },

  /** SHA-256 (hex) of every file the loaded model read, for run manifests. Computed once per load. */
  fileHashes(): Promise<Record<string, string>> {
    const m = requireModel();
    const files = modelFiles;
    if (!files) throw new WorkbenchError('internal', 'No model is loaded yet.');
    hashes ??= (async () => {
      const out: Record<string, string> = {};
      for (const path of Object.keys(m.info.files).sort()) out[path] = await files.sha256(path);
      return out;
    })();
    return hashes;
  },

  /** Unit-norm text embeddings, texts.length × dim, transferred. */
  async embedTexts(texts: string[], onProgress?: (p: EmbedProgress) => void): Promise<Float32Array> {
    const m = requireModel();
    const signal = jobs.signal;
    const out = new Float32Array(texts.length * m.info.embeddingDim);
    for (let i = 0; i < texts.length; i += TEXT_BATCH) {
      checkCancelled(signal);
      const batch = texts.slice(i, i + TEXT_BATCH);
      const rows = await m.embedTextBatch(batch);
      encoded.texts += batch.length;
      out.set(rows, i * m.info.embeddingDim);
      onProgress?.({ done: Math.min(texts.length, i + TEXT_BATCH), total: texts.length });
    }
    return Comlink.transfer(out, [out.buffer]);
  },

  /**
   * Embed `texts` as stream `run` of the cache worker: each batch's rows (seq = index in `texts`) go
   * there over the `connectStore` port, not back to the caller. Resolves when every row is sent.
   */
  async embedTextsTo(run: number, texts: string[], onProgress?: (p: EmbedProgress) => void): Promise<void> {
    const m = requireModel();
    const port = storePort;
    if (!port) throw new WorkbenchError('internal', 'The cache worker is not connected (connectStore).');
    const signal = jobs.signal;
    for (let i = 0; i < texts.length; i += TEXT_BATCH) {
      checkCancelled(signal);
      const batch = texts.slice(i, i + TEXT_BATCH);
      const embeddings = await m.embedTextBatch(batch);
      encoded.texts += batch.length;
      const msg: RowsMessage = { run, seqs: batch.map((_, k) => i + k), embeddings, backend: m.info.backend };
      port.postMessage(msg, [embeddings.buffer]);
      onProgress?.({ done: Math.min(texts.length, i + TEXT_BATCH), total: texts.length });
    }
  },

  /**
   * Decode, preprocess and embed images in batches. A file that does not decode is reported in
   * `failed` (with the reason) and never stops the run. Decoding of the next batch overlaps inference.
   */
  async embedImages(
    items: ImageItem[],
    resizeMode: ResizeMode,
    onProgress?: (p: EmbedProgress) => void,
  ): Promise<ImageEmbeddingResult> {
    const m = requireModel();
    const signal = jobs.signal;
    const dim = m.info.embeddingDim;
    const { width, height } = m.info.imageSize;
    const plane = 3 * width * height;
    const batch = imageBatchSize(m);
    const out = new Float32Array(items.length * dim);
    const failed: ImageEmbeddingResult['failed'] = [];
    const backends = new Array<string>(items.length).fill('');

    const prepare = async (start: number) => {
      const slice = items.slice(start, start + batch);
      const pixels = new Float32Array(slice.length * plane);
      const rows: number[] = [];
      for (let k = 0; k < slice.length; k++) {
        checkCancelled(signal);
        const item = slice[k]!;
        try {
          const rgb = await decodeImage(item.blob, item.name, m.preprocess, resizeMode);
          preprocessRgb(rgb, m.preprocess, pixels, rows.length * plane);
          rows.push(start + k);
        } catch (e) {
          failed.push({
            index: start + k,
            file: item.name,
            reason: e instanceof Error ? e.message.replace(/^\[[a-z-]+\] /, '') : String(e),
          });
        }
      }
      return { pixels: pixels.subarray(0, rows.length * plane), rows };
    };

    let next = items.length > 0 ? prepare(0) : null;
    for (let start = 0; next; start += batch) {
      const cur = await next;
      next = start + batch < items.length ? prepare(start + batch) : null;
      checkCancelled(signal);
      if (cur.rows.length > 0) {
        const emb = await m.embedPixels(new Float32Array(cur.pixels), cur.rows.length);
        encoded.images += cur.rows.length;
        // Read after the batch: a device lost during it made the batch rerun on WASM.
        const backend = m.info.backend;
        cur.rows.forEach((row, k) => {
          out.set(emb.subarray(k * dim, (k + 1) * dim), row * dim);
          backends[row] = backend;
        });
      }
      onProgress?.({ done: Math.min(items.length, start + batch), total: items.length });
    }
    failed.sort((a, b) => a.index - b.index);
    return Comlink.transfer({ embeddings: out, dim, failed, backends }, [out.buffer]);
  },

  /**
   * Connect a decode worker's port: its pixels come straight here (see src/state/decode-pool.ts).
   * `gate`: the pool's flag, raised here while a WASM run is in the runtime (src/engine/runtime-gate.ts).
   */
  connectDecoder(port: MessagePort, gate: SharedArrayBuffer | null): void {
    listen(port);
    setRuntimeGate(gate);
  },

  /** Connect the cache worker's port: streamed runs' embeddings go there, not to the main thread. */
  connectStore(port: MessagePort): void {
    storePort = port;
  },

  /** Open a streamed run before its images are handed out, so no pixel message arrives unheard. */
  openStream(run: number): void {
    streams.set(run, new PixelStream());
  },

  /**
   * Embed a streamed run's `total` images as the decode workers deliver them (workers/pixel-stream.ts):
   * each batch's rows go to the cache worker (transferred), then `onBatch` hears which seqs they were
   * and which images failed. Rejects when the run is cancelled or another model is loaded.
   */
  async embedStream(run: number, total: number, onBatch: (b: StreamProgress) => Promise<void> | void): Promise<void> {
    const m = requireModel();
    const s = streams.get(run);
    if (!s) throw new WorkbenchError('internal', `Run ${run} was not opened.`);
    const port = storePort;
    if (!port) throw new WorkbenchError('internal', 'The cache worker is not connected (connectStore).');
    const signal = jobs.signal;
    const stop = () => s.stop(signal.reason instanceof WorkbenchError ? signal.reason : cancelledError());
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop);
    try {
      const toStore = ({ embeddings, ...b }: StreamBatch) => {
        const msg: RowsMessage = { run, seqs: b.seqs, embeddings, backend: b.backend };
        port.postMessage(msg, [embeddings.buffer]);
        return onBatch(b);
      };
      await s.run(m, total, imageBatchSize(m), toStore, (n) => (encoded.images += n));
    } finally {
      signal.removeEventListener('abort', stop);
      streams.delete(run);
    }
  },

  /** Stop one streamed run (its `embedStream` rejects with a "cancelled" error). */
  cancelStream(run: number): void {
    streams.get(run)?.stop(cancelledError());
  },

  /** The preprocessed tensor of one image (CHW float32), to inspect or check preprocessing. */
  async pixelValues(item: ImageItem, resizeMode: ResizeMode): Promise<Float32Array> {
    const m = requireModel();
    const { width, height } = m.info.imageSize;
    const out = new Float32Array(3 * width * height);
    preprocessRgb(await decodeImage(item.blob, item.name, m.preprocess, resizeMode), m.preprocess, out);
    return Comlink.transfer(out, [out.buffer]);
  },

  /** Force the WASM thread count (null: every core up to 4); only before this worker's first session. */
  setWasmThreads(n: number | null): void {
    setWasmThreads(n);
  },

  /**
   * Images and texts encoded so far by this worker, the runtime's milliseconds per model file, and whether
   * the text tower's session exists now, with the time of each one made after the load (text-tower.ts);
   * how the vision tower's WASM rebuild after a GPU loss read its file (null: none).
   */
  encodeCounts(): {
    images: number;
    texts: number;
    runtimeMs: Record<string, number>;
    textTower: TextTowerInfo | null;
    /** How the load read each tower's file (tower-files.ts towerSession); null before a load. */
    loadedFrom: Record<'text' | 'vision', TowerRead> | null;
    visionRebuiltFrom: TowerRead | null;
  } {
    const t = model?.text;
    const textTower = t ? { resident: t.resident, loadMs: [...t.loadMs], loadedFrom: [...t.loadedFrom] } : null;
    return {
      ...encoded,
      runtimeMs: runtimeBusyMs(),
      textTower,
      loadedFrom: model ? { ...model.loadedFrom } : null,
      visionRebuiltFrom: model?.rebuiltFrom ?? null,
    };
  },

  /** Stop the running job at the next batch boundary (it rejects with a "cancelled" error). */
  cancel(): void {
    jobs.abort();
    jobs = new AbortController();
  },

  /** Testing hook: destroy the WebGPU device to exercise the WASM fallback. */
  loseDeviceForTesting(): Promise<boolean> {
    return requireModel().loseDeviceForTesting();
  },

  async dispose(): Promise<void> {
    await model?.dispose();
    model = null;
  },
};

export type ClipWorkerApi = typeof api;

Comlink.expose(api);
