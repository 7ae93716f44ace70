/**
 * A loaded CLIP-family model: tokenizer, preprocessing config and the two tower sessions, with
 * batched embedding into unit-norm rows. The model family (core/model-family) decides the embedding
 * outputs, the tokenization rule and the scoring; inputs are fed by the graph's own input names.
 * Falls back to WASM when the GPU device is lost.
 */
import { createClipTokenizer, type ClipTokenizer } from '../core/tokenize';
import { parsePreprocessConfig, outputSize, type PreprocessConfig } from '../core/preprocess';
import { parseModelConfig, type ModelConfig } from '../core/model-config';
import { describeRules, detectFamily, resolveScoring } from '../core/model-family';
import { RESAMPLE_NAMES } from '../core/pil-resize';
import { normalizeRows } from '../core/vector';
import { float32ToHalf } from '../core/float16';
import { WorkbenchError, describeError } from '../data/errors';
import { ModelFiles, type ProgressFn } from '../data/model-fetch';
import { hashParts } from '../data/content-hash';
import {
  onnxPath,
  externalDataPath,
  REQUIRED_JSON,
  DTYPES,
  COMBINED_ONNX,
  type Dtype,
  type DtypeOption,
  type Tower,
} from '../data/model-files';
import { EngineSession, probeBackends, webgpuDevice, gpuBuild, type HostTensor } from './ort-engine';
import { chooseBackend, timedGpuBatch, TRIAL_BATCH } from './backend-choice';
import { chooseDtype, openTower, towerSession, pickOutput, toFloat32, type TowerRead } from './tower-files';
import { TextTower, probeTextDim, textFeeds } from './text-tower';

import type { LoadOptions, ModelInfo, NoticeFn } from './model-info';

export type { BackendChoice, DtypeChoice, LoadOptions, ModelInfo, NoticeFn } from './model-info';

export class ClipModel {
  info: ModelInfo;
  readonly tokenizer: ClipTokenizer;
  readonly preprocess: PreprocessConfig;
  /** On WASM without a session until the first text after the load (text-tower.ts). */
  readonly text: TextTower;
  private vision: EngineSession;
  /** The vision tower's file and its hash, to read it again for the WASM rebuild after a GPU loss. */
  private readonly visionFile: { files: ModelFiles; path: string; hash: string };
  private outputs: { text: readonly string[]; vision: readonly string[] };
  private deviceLost = false;
  /** The lost device's own message (or reason), for the notice. */
  private lostReason: string | null = null;
  /** The WASM rebuild after a GPU loss, once started. */
  private fallback: Promise<void> | null = null;
  /** How the load read each tower's file (tower-files.ts towerSession). */
  loadedFrom: Record<Tower, TowerRead> = { text: 'file', vision: 'file' };
  /** How the vision tower's WASM rebuild after a GPU loss read its file (openTower); null before one. */
  rebuiltFrom: TowerRead | null = null;
  private onNotice: NoticeFn;

  private constructor(
    info: ModelInfo,
    tokenizer: ClipTokenizer,
    preprocess: PreprocessConfig,
    sessions: { text: EngineSession | null; vision: EngineSession },
    text: { files: ModelFiles; path: string; hash: string },
    vision: { files: ModelFiles; path: string; hash: string },
    outputs: { text: readonly string[]; vision: readonly string[] },
    onNotice: NoticeFn,
  ) {
    this.outputs = outputs;
    this.info = info;
    this.tokenizer = tokenizer;
    this.preprocess = preprocess;
    this.text = new TextTower(
      text.files,
      text.path,
      text.hash,
      () => ({ backend: this.info.backend, probe: this.info.probe }),
      sessions.text,
    );
    this.vision = sessions.vision;
    this.visionFile = vision;
    this.onNotice = onNotice;
  }

  /** Which dtypes the source has both tower files for. */
  static async availableDtypes(files: ModelFiles): Promise<Dtype[]> {
    const found = await Promise.all(
      DTYPES.map(async (d) => {
        const [t, v] = await Promise.all([files.has(onnxPath('text', d)), files.has(onnxPath('vision', d))]);
        return t && v ? d : null;
      }),
    );
    return found.filter((d): d is Dtype => d !== null);
  }

  /**
   * The dtypes both towers have, with the bytes a load downloads (both towers, external data included;
   * null when the host does not say).
   */
  static async dtypeOptions(files: ModelFiles): Promise<DtypeOption[]> {
    const available = await ClipModel.availableDtypes(files);
    const sizeOf = async (path: string): Promise<number | null> => {
      let total = await files.size(path);
      for (let k = 0; total !== null && (await files.has(externalDataPath(path, k))); k++) {
        const s = await files.size(externalDataPath(path, k));
        total = s === null ? null : total + s;
      }
      return total;
    };
    return Promise.all(
      available.map(async (dtype) => {
        const [t, v] = await Promise.all([sizeOf(onnxPath('text', dtype)), sizeOf(onnxPath('vision', dtype))]);
        return { dtype, bytes: t === null || v === null ? null : t + v };
      }),
    );
  }

  static async load(
    files: ModelFiles,
    opts: LoadOptions,
    onProgress: ProgressFn,
    onNotice: NoticeFn,
    signal?: AbortSignal,
  ): Promise<ClipModel> {
    const probe = await probeBackends();
    if (opts.backend === 'webgpu' && !probe.webgpu) {
      throw new WorkbenchError('backend-unavailable', 'WebGPU was forced, but this browser offers no WebGPU adapter.');
    }
    const sizes: Record<string, number> = {};
    const json: Record<string, Record<string, unknown>> = {};
    // Every small file and existence check at once (one round trip to the host instead of five in a row),
    // awaited in order so that a missing config.json is still the error a wrong id reports.
    const requests = {
      required: REQUIRED_JSON.map((f) => files.json(f, signal)),
      tokCfg: files
        .has('tokenizer_config.json')
        .then((has) => (has ? files.json('tokenizer_config.json', signal) : {})),
      available: ClipModel.availableDtypes(files),
    };
    for (const p of [...requests.required, requests.tokCfg, requests.available]) void p.catch(() => undefined);
    for (const [i, f] of REQUIRED_JSON.entries()) json[f] = await requests.required[i]!;
    const tokCfg = await requests.tokCfg;
    const available = await requests.available;
    if (available.length === 0 && (await files.has(COMBINED_ONNX))) {
      throw new WorkbenchError(
        'model-file-missing',
        `${files.source.id} has only the combined ${COMBINED_ONNX} (both towers in one graph, which needs an image ` +
          'and a text for every call). The workbench embeds images and texts separately: it needs the split tower ' +
          'files onnx/text_model.onnx and onnx/vision_model.onnx (transformers.js exports them, e.g. with ' +
          "its conversion script's split-model option).",
        onnxPath('vision', 'fp32'),
      );
    }
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
    // Auto times the backends on the vision tower (once per model and device; see backend-choice.ts).
    const backendDecision = await chooseBackend({
      requested: opts.backend,
      probe,
      remembered: opts.remembered,
      remeasure: opts.remeasure,
      imageSize: outputSize(parsePreprocessConfig(json['preprocessor_config.json']!)),
      files,
      visionPath: (b) => onnxPath('vision', chooseDtype(opts.dtype, available, b, probe)),
      visionHash: () =>
        files.hash(onnxPath('vision', chooseDtype(opts.dtype, available, 'wasm', probe)), onProgress, signal),
      signal,
    });
    const backend = backendDecision.backend;
    const dtype = chooseDtype(opts.dtype, available, backend, probe);
    const cfg = parseModelConfig(json['config.json']!);
    const pre = parsePreprocessConfig(json['preprocessor_config.json']!);
    if (!(pre.resample in RESAMPLE_NAMES)) {
      throw new WorkbenchError(
        'model-file-corrupt',
        `preprocessor_config.json asks for resample ${pre.resample}, which is not a Pillow filter (0–5).`,
        'preprocessor_config.json',
      );
    }
    const family = detectFamily({
      config: json['config.json']!,
      preprocessor: json['preprocessor_config.json']!,
      tokenizerConfig: tokCfg,
      modelId: files.source.id,
    });
    const rules = family.rules;
    let tokenizer: ClipTokenizer;
    try {
      tokenizer = createClipTokenizer(
        json['tokenizer.json']!,
        tokCfg,
        cfg.maxPositionEmbeddings ?? undefined,
        rules.tokenization,
      );
    } catch (e) {
      throw new WorkbenchError(
        'model-file-corrupt',
        `tokenizer.json could not be used (${e instanceof Error ? e.message : String(e)}).`,
        'tokenizer.json',
      );
    }

    const load = async (tower: Tower) => {
      const t = await towerSession(files, onnxPath(tower, dtype), backend, probe, { onProgress, signal });
      Object.assign(sizes, t.sizes);
      return t;
    };
    // On WASM the text tower loads first, is probed once for its embedding size and closed again: an image
    // run never needs it, and the heap, which never shrinks, would hold its weights beside the vision
    // tower's through every run. The vision tower then loads into the room it left. The text tower loads
    // again at the first text (TextTower.get), into a heap that already holds the vision tower: the layout
    // of loading vision first, whose load leaves room the smaller text tower largely fits in (B/32 fp32:
    // heap 689–693 MiB vision first, 807–809 MiB text first with both kept; onnxruntime-web in Node).
    // On WebGPU both sessions stay (vision first); their files do not: after a device loss the WASM rebuild
    // reads them again from the picked folder or the download cache, as the text tower does on WASM.
    let textDim: number | undefined;
    let t: Awaited<ReturnType<typeof load>>;
    let v: Awaited<ReturnType<typeof load>>;
    if (backend === 'wasm') {
      t = await load('text');
      try {
        textDim = await probeTextDim(t.session, tokenizer, rules.outputs.text, t.path);
      } finally {
        await t.session.dispose();
      }
      v = await load('vision');
    } else {
      const vision = await load('vision');
      v = vision;
      t = await load('text').catch(async (e: unknown) => {
        await vision.session.dispose();
        throw e;
      });
    }

    const scoring = resolveScoring(rules, json['config.json']!, files.source.id);
    const info: ModelInfo = {
      id: files.source.id,
      origin: files.source.origin,
      backend,
      dtype,
      availableDtypes: available,
      embeddingDim: 0,
      family: {
        id: rules.id,
        label: rules.label,
        reason: family.reason,
        flagged: family.flagged,
        rules: describeRules(rules.label, scoring, tokenizer.padding.fixedLength, tokenizer.contextLength, pre),
      },
      scoring,
      tokenization: {
        padTo: rules.tokenization.padTo,
        padId: tokenizer.padding.padId,
        describe: rules.tokenization.describe,
      },
      logitScale: scoring.kind === 'softmax' && scoring.scale !== null ? scoring.scale : NaN,
      logitScaleSource: scoring.scaleSource,
      contextLength: tokenizer.contextLength,
      imageSize: outputSize(pre),
      preprocess: pre,
      probe,
      gpuBuild: gpuBuild(),
      backendDecision,
      imageBatch: {
        webgpu: opts.webgpuBatch ?? timedGpuBatch(backendDecision) ?? TRIAL_BATCH.webgpu,
        wasm: TRIAL_BATCH.wasm,
      },
      files: sizes,
      fingerprints: {
        vision: await hashParts(['vision', v.fileHash, JSON.stringify(json['preprocessor_config.json'])]),
        text: await hashParts([
          'text',
          t.fileHash,
          JSON.stringify(json['tokenizer.json']),
          JSON.stringify(tokCfg),
          String(tokenizer.contextLength),
          JSON.stringify(tokenizer.padding),
          rules.tokenization.canonicalize,
        ]),
      },
    };
    const model = new ClipModel(
      info,
      tokenizer,
      pre,
      { text: backend === 'wasm' ? null : t.session, vision: v.session },
      { files, path: t.path, hash: t.fileHash },
      { files, path: v.path, hash: v.fileHash },
      rules.outputs,
      onNotice,
    );
    model.loadedFrom = { text: t.from, vision: v.from };
    try {
      await model.checkTowers(cfg, dtype, textDim);
    } catch (e) {
      await model.dispose();
      throw e;
    }
    if (backend === 'webgpu') void model.watchDevice();
    return model;
  }

  /**
   * Probe both towers once: their embedding sizes must agree (and match config when stated). `textDim`:
   * the text tower's, when it was probed before it was closed.
   */
  private async checkTowers(cfg: ModelConfig, dtype: Dtype, probedTextDim?: number): Promise<void> {
    const { width, height } = this.info.imageSize;
    const textDim = probedTextDim ?? (await this.embedTextBatch(['a photo of a cat.'])).length;
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
    const lost = device ? await device.lost : null;
    if (lost) {
      this.deviceLost = true;
      this.lostReason = lost.message || lost.reason;
    }
  }

  /**
   * Rebuild both sessions on WASM after the GPU device was lost, and tell the user — once: with two
   * batches in flight both may see the loss, and the second must wait for the first's rebuild (not
   * rebuild again and dispose the sessions the first is running on).
   */
  private fallBackToWasm(why: string): Promise<void> {
    this.fallback ??= this.rebuildOnWasm(why);
    return this.fallback;
  }

  /**
   * The vision tower on WASM from its file, read again (the picked folder or the download cache) and checked
   * against the load's hash; the text tower's WebGPU session is dropped, and TextTower makes its WASM one
   * from its file at the next text, as on a WASM load.
   */
  private async rebuildOnWasm(why: string): Promise<void> {
    const { files, path, hash } = this.visionFile;
    const changed = () =>
      new WorkbenchError(
        'model-file-corrupt',
        `The GPU device was lost (${why}), and ${path} is no longer the file the model was loaded with, so ` +
          'the model cannot continue on WASM: load it again.',
        path,
      );
    const { session: vision, from } = await openTower(files, path, hash, 'wasm', this.info.probe, changed);
    this.rebuiltFrom = from;
    this.info = { ...this.info, backend: 'wasm' };
    await this.text.drop();
    this.vision.dispose().catch(() => undefined);
    this.vision = vision;
    this.onNotice(`The GPU device was lost (${why}); the run continues on WASM (CPU), more slowly.`);
  }

  /** Run a tower; on WebGPU a lost device triggers the WASM fallback and one retry. */
  private async runTower(tower: Tower, feeds: Record<string, HostTensor>): Promise<HostTensor> {
    const attempt = async () => {
      const s = tower === 'text' ? await this.text.get() : this.vision;
      const out = pickOutput(this.outputs[tower], s.outputNames, onnxPath(tower, this.info.dtype));
      return (await s.run(feeds, [out]))[out]!;
    };
    if (this.deviceLost) await this.fallBackToWasm('device lost');
    try {
      return await attempt();
    } catch (e) {
      if (this.info.backend !== 'webgpu' && !this.fallback) throw e;
      // Give the device's `lost` promise a moment to settle before deciding.
      await new Promise((r) => setTimeout(r, 50));
      if (!this.deviceLost) throw e;
      // The device's own reason when it gave one (the failed run's error is the runtime's internals: the native
      // WebGPU provider reports a buffer read-back that failed), else the run's error without the code and the
      // "device was lost" wrapper the notice adds itself.
      const why = this.lostReason ?? describeError(e).message.replace(/^The GPU device was lost \((.*)\)\.?$/s, '$1');
      await this.fallBackToWasm(why);
      try {
        return await attempt();
      } catch (again) {
        // A WebGPU run in flight when the device went never settles inside onnxruntime-web's JSEP build,
        // which then refuses every later run in this worker ("Session already started").
        if (!/Session already started/.test(String(again))) throw again;
        // The page rebuilds the model in a fresh worker on WASM and the run goes on (state/image-encoding.ts).
        throw new WorkbenchError(
          'gpu-lost',
          'The GPU device was lost while a batch was running on it, and the runtime cannot run again in this ' +
            'worker. The images finished before the loss are saved.',
        );
      }
    }
  }

  /** Unit-norm text embeddings, texts.length × dim, for one batch. */
  async embedTextBatch(texts: string[]): Promise<Float32Array> {
    const feeds = textFeeds(await this.text.get(), this.tokenizer, texts);
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
