/**
 * A loaded CLIP-family model: tokenizer, preprocessing config and the two tower sessions, with
 * batched embedding into unit-norm rows. Falls back to WASM when the GPU device is lost.
 */
import { createClipTokenizer, type ClipTokenizer } from '../core/tokenize';
import { parsePreprocessConfig, outputSize, type PreprocessConfig } from '../core/preprocess';
import { parseModelConfig, type ModelConfig } from '../core/model-config';
import { normalizeRows } from '../core/vector';
import { float32ToHalf, halfToFloat32 } from '../core/float16';
import { WorkbenchError, cancelledError } from '../data/errors';
import { ModelFiles, type ProgressFn } from '../data/model-fetch';
import { hashParts } from '../data/content-hash';
import { onnxPath, REQUIRED_JSON, DTYPES, type Dtype, type Tower } from '../data/model-files';
import {
  EngineSession,
  probeBackends,
  webgpuDevice,
  type Backend,
  type BackendProbe,
  type HostTensor,
} from './ort-engine';

export type BackendChoice = 'auto' | Backend;
export type DtypeChoice = 'auto' | Dtype;

export interface LoadOptions {
  backend: BackendChoice;
  dtype: DtypeChoice;
}

/** What the UI shows and results record about a loaded model. */
export interface ModelInfo {
  id: string;
  origin: string;
  backend: Backend;
  dtype: Dtype;
  availableDtypes: Dtype[];
  embeddingDim: number;
  logitScale: number;
  logitScaleSource: ModelConfig['logitScaleSource'];
  contextLength: number;
  imageSize: { width: number; height: number };
  /** Preprocessing as read from preprocessor_config.json (recorded in run manifests). */
  preprocess: PreprocessConfig;
  probe: BackendProbe;
  /** Files read, with their size in bytes. */
  files: Record<string, number>;
  /**
   * Cache keys of the towers (xxHash128): vision = encoder file + preprocessor_config.json; text =
   * encoder file + tokenizer files + context length. Equal fingerprints give equal embeddings.
   */
  fingerprints: { vision: string; text: string };
}

/** Called when something the user should know happens mid-run (e.g. the GPU was lost). */
export type NoticeFn = (message: string) => void;

/** Embedding output names across exports: transformers.js CLIP uses `*_embeds`. */
const OUTPUT_NAMES: Record<Tower, string[]> = {
  text: ['text_embeds', 'pooler_output'],
  vision: ['image_embeds', 'pooler_output'],
};

function pickOutput(tower: Tower, names: readonly string[], file: string): string {
  const found = OUTPUT_NAMES[tower].find((n) => names.includes(n));
  if (!found) {
    throw new WorkbenchError(
      'model-file-corrupt',
      `${file} has no ${OUTPUT_NAMES[tower].join(' or ')} output (it has: ${names.join(', ')}). ` +
        'Use the tower files with projection, as in the transformers.js layout.',
      file,
    );
  }
  return found;
}

function toFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return new Float32Array(t.data); // own copy: transferable later
  if (t.type === 'float16' && t.data instanceof Uint16Array) return halfToFloat32(t.data);
  throw new WorkbenchError('internal', `Unexpected output type ${t.type}.`);
}

export class ClipModel {
  info: ModelInfo;
  readonly tokenizer: ClipTokenizer;
  readonly preprocess: PreprocessConfig;
  private text: EngineSession;
  private vision: EngineSession;
  private textBytes: Uint8Array | null;
  private visionBytes: Uint8Array | null;
  private deviceLost = false;
  private onNotice: NoticeFn;

  private constructor(
    info: ModelInfo,
    tokenizer: ClipTokenizer,
    preprocess: PreprocessConfig,
    sessions: { text: EngineSession; vision: EngineSession },
    bytes: { text: Uint8Array; vision: Uint8Array },
    onNotice: NoticeFn,
  ) {
    this.info = info;
    this.tokenizer = tokenizer;
    this.preprocess = preprocess;
    this.text = sessions.text;
    this.vision = sessions.vision;
    // Kept only for a WebGPU model, so it can be rebuilt on WASM if the device is lost.
    this.textBytes = info.backend === 'webgpu' ? bytes.text : null;
    this.visionBytes = info.backend === 'webgpu' ? bytes.vision : null;
    this.onNotice = onNotice;
  }

  /** Which dtypes the source has both tower files for. */
  static async availableDtypes(files: ModelFiles): Promise<Dtype[]> {
    const out: Dtype[] = [];
    for (const d of DTYPES) {
      const [t, v] = await Promise.all([files.has(onnxPath('text', d)), files.has(onnxPath('vision', d))]);
      if (t && v) out.push(d);
    }
    return out;
  }

  static async load(
    files: ModelFiles,
    opts: LoadOptions,
    onProgress: ProgressFn,
    onNotice: NoticeFn,
    signal?: AbortSignal,
  ): Promise<ClipModel> {
    const probe = await probeBackends();
    const backend: Backend = opts.backend === 'auto' ? (probe.webgpu ? 'webgpu' : 'wasm') : opts.backend;
    if (backend === 'webgpu' && !probe.webgpu) {
      throw new WorkbenchError('backend-unavailable', 'WebGPU was forced, but this browser offers no WebGPU adapter.');
    }
    const sizes: Record<string, number> = {};
    const json: Record<string, Record<string, unknown>> = {};
    for (const f of REQUIRED_JSON) json[f] = await files.json(f, signal);
    const tokCfg = (await files.has('tokenizer_config.json')) ? await files.json('tokenizer_config.json', signal) : {};

    const available = await ClipModel.availableDtypes(files);
    if (available.length === 0) {
      const missing = (await files.has(onnxPath('text', 'fp32')))
        ? onnxPath('vision', 'fp32')
        : onnxPath('text', 'fp32');
      throw new WorkbenchError(
        'model-file-missing',
        `${missing} is missing: no dtype has both onnx/text_model*.onnx and onnx/vision_model*.onnx in ${files.source.id}.`,
        missing,
      );
    }
    const dtype = chooseDtype(opts.dtype, available, backend, probe);
    const cfg = parseModelConfig(json['config.json']!);
    const pre = parsePreprocessConfig(json['preprocessor_config.json']!);
    let tokenizer: ClipTokenizer;
    try {
      tokenizer = createClipTokenizer(json['tokenizer.json']!, tokCfg, cfg.maxPositionEmbeddings ?? undefined);
    } catch (e) {
      throw new WorkbenchError(
        'model-file-corrupt',
        `tokenizer.json could not be used (${e instanceof Error ? e.message : String(e)}).`,
        'tokenizer.json',
      );
    }

    const load = async (tower: Tower) => {
      const path = onnxPath(tower, dtype);
      const bytes = await files.bytes(path, onProgress, signal);
      sizes[path] = bytes.byteLength;
      if (signal?.aborted) throw cancelledError();
      const fileHash = await hashParts([bytes]);
      return { bytes, fileHash, session: await EngineSession.create(bytes, backend, probe, path) };
    };
    const t = await load('text');
    const v = await load('vision').catch(async (e: unknown) => {
      await t.session.dispose();
      throw e;
    });

    const info: ModelInfo = {
      id: files.source.id,
      origin: files.source.origin,
      backend,
      dtype,
      availableDtypes: available,
      embeddingDim: 0,
      logitScale: cfg.logitScale,
      logitScaleSource: cfg.logitScaleSource,
      contextLength: tokenizer.contextLength,
      imageSize: outputSize(pre),
      preprocess: pre,
      probe,
      files: sizes,
      fingerprints: {
        vision: await hashParts(['vision', v.fileHash, JSON.stringify(json['preprocessor_config.json'])]),
        text: await hashParts([
          'text',
          t.fileHash,
          JSON.stringify(json['tokenizer.json']),
          JSON.stringify(tokCfg),
          String(tokenizer.contextLength),
        ]),
      },
    };
    const model = new ClipModel(
      info,
      tokenizer,
      pre,
      { text: t.session, vision: v.session },
      { text: t.bytes, vision: v.bytes },
      onNotice,
    );
    try {
      await model.checkTowers(cfg, dtype);
    } catch (e) {
      await model.dispose();
      throw e;
    }
    if (backend === 'webgpu') void model.watchDevice();
    return model;
  }

  /** Probe both towers once: their embedding sizes must agree (and match config when stated). */
  private async checkTowers(cfg: ModelConfig, dtype: Dtype): Promise<void> {
    const { width, height } = this.info.imageSize;
    const textDim = (await this.embedTextBatch(['a photo of a cat.'])).length;
    const visionDim = (await this.embedPixels(new Float32Array(3 * width * height), 1)).length;
    if (textDim !== visionDim) {
      throw new WorkbenchError(
        'model-mismatch',
        `The towers do not match: ${onnxPath('text', dtype)} gives ${textDim}-d embeddings but ` +
          `${onnxPath('vision', dtype)} gives ${visionDim}-d. Both files must come from the same model.`,
        onnxPath('vision', dtype),
      );
    }
    if (cfg.projectionDim !== null && cfg.projectionDim !== textDim) {
      throw new WorkbenchError(
        'model-mismatch',
        `config.json says projection_dim = ${cfg.projectionDim}, but the ONNX towers give ${textDim}-d embeddings.`,
        'config.json',
      );
    }
    this.info.embeddingDim = textDim;
  }

  private async watchDevice(): Promise<void> {
    const device = await webgpuDevice();
    // Any loss counts, 'destroyed' included: the sessions cannot run on that device again.
    if (device && (await device.lost)) this.deviceLost = true;
  }

  /** Rebuild both sessions on WASM after the GPU device was lost, and tell the user. */
  private async fallBackToWasm(why: string): Promise<void> {
    if (!this.textBytes || !this.visionBytes) throw new WorkbenchError('internal', why);
    const probe = this.info.probe;
    const text = await EngineSession.create(this.textBytes, 'wasm', probe, onnxPath('text', this.info.dtype));
    const vision = await EngineSession.create(this.visionBytes, 'wasm', probe, onnxPath('vision', this.info.dtype));
    this.text.dispose().catch(() => undefined);
    this.vision.dispose().catch(() => undefined);
    this.text = text;
    this.vision = vision;
    this.textBytes = null;
    this.visionBytes = null;
    this.info = { ...this.info, backend: 'wasm' };
    this.onNotice(`The GPU device was lost (${why}); the run continues on WASM (CPU), more slowly.`);
  }

  /** Run a tower; on WebGPU a lost device triggers the WASM fallback and one retry. */
  private async runTower(tower: Tower, feeds: Record<string, HostTensor>): Promise<HostTensor> {
    const attempt = async () => {
      const s = tower === 'text' ? this.text : this.vision;
      const out = pickOutput(tower, s.outputNames, onnxPath(tower, this.info.dtype));
      return (await s.run(feeds, [out]))[out]!;
    };
    if (this.info.backend === 'webgpu' && this.deviceLost) await this.fallBackToWasm('device lost');
    try {
      return await attempt();
    } catch (e) {
      if (this.info.backend !== 'webgpu') throw e;
      // Give the device's `lost` promise a moment to settle before deciding.
      await new Promise((r) => setTimeout(r, 50));
      if (!this.deviceLost) throw e;
      await this.fallBackToWasm(e instanceof Error ? e.message : String(e));
      return attempt();
    }
  }

  /** Unit-norm text embeddings, texts.length × dim, for one batch. */
  async embedTextBatch(texts: string[]): Promise<Float32Array> {
    const { ids, seqLen, lengths } = this.tokenizer.encodeBatch(texts);
    const feeds: Record<string, HostTensor> = {};
    const dims = [texts.length, seqLen];
    const names = this.text.inputNames;
    const idName = names.includes('input_ids') ? 'input_ids' : names[0]!;
    const asInt32 = this.text.inputTypes[idName] === 'int32';
    feeds[idName] = asInt32
      ? { type: 'int32', data: Int32Array.from(ids, Number), dims }
      : { type: 'int64', data: ids, dims };
    if (names.includes('attention_mask')) {
      const mask = new BigInt64Array(ids.length);
      lengths.forEach((n, i) => mask.fill(1n, i * seqLen, i * seqLen + Math.min(n, seqLen)));
      feeds.attention_mask = { type: 'int64', data: mask, dims };
    }
    const out = await this.runTower('text', feeds);
    const dim = out.dims[out.dims.length - 1]!;
    return normalizeRows(toFloat32(out), dim);
  }

  /** Unit-norm image embeddings for `n` preprocessed images (CHW float32, concatenated). */
  async embedPixels(pixels: Float32Array, n: number): Promise<Float32Array> {
    const { width, height } = this.info.imageSize;
    const name = this.vision.inputNames.includes('pixel_values') ? 'pixel_values' : this.vision.inputNames[0]!;
    const half = this.vision.inputTypes[name] === 'float16';
    const dims = [n, 3, height, width];
    const feed: HostTensor = half
      ? { type: 'float16', data: float32ToHalf(pixels), dims }
      : { type: 'float32', data: pixels, dims };
    const out = await this.runTower('vision', { [name]: feed });
    const dim = out.dims[out.dims.length - 1]!;
    return normalizeRows(toFloat32(out), dim);
  }

  /** For tests and the "simulate GPU loss" check: destroy the WebGPU device under the sessions. */
  async loseDeviceForTesting(): Promise<boolean> {
    const d = await webgpuDevice();
    if (!d || this.info.backend !== 'webgpu') return false;
    d.destroy();
    this.deviceLost = true;
    return true;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.text.dispose(), this.vision.dispose()]);
  }
}

function chooseDtype(choice: DtypeChoice, available: Dtype[], backend: Backend, probe: BackendProbe): Dtype {
  if (choice !== 'auto') {
    if (!available.includes(choice)) {
      throw new WorkbenchError(
        'model-file-missing',
        `${onnxPath('vision', choice)} / ${onnxPath('text', choice)} are not in this model (it has: ${available.join(', ')}).`,
        onnxPath('vision', choice),
      );
    }
    return choice;
  }
  if (backend === 'webgpu' && probe.shaderF16 && available.includes('fp16')) return 'fp16';
  return available.includes('fp32') ? 'fp32' : available[0]!;
}
