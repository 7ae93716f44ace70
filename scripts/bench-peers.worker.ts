/**
 * bench:compare's peers inside the page (a module worker, as the app's own model worker): (c)
 * onnxruntime-web alone on pre-made tensors, in one of its builds and on one execution provider, and (d)
 * transformers.js end to end. Served by the Vite dev server, which compiles this file and resolves its
 * imports. Plain postMessage protocol: `{ id, cmd, args }` in, `{ id, result }` or `{ id, error }` out.
 */
import { env, AutoProcessor, CLIPVisionModelWithProjection, RawImage } from '@huggingface/transformers';
import { decodeImage } from '../src/data/image-decode';
import { outputSize, parsePreprocessConfig, preprocessRgb } from '../src/core/preprocess';
import { concatArrays } from '../src/core/vector';
import { gpuBuild } from '../src/engine/ort-engine';

/**
 * onnxruntime-web's builds: `default` (`onnxruntime-web`, what the app imports: WebGPU through JSEP, the
 * JavaScript kernels), `webgpu` (`onnxruntime-web/webgpu`: the native C++ WebGPU EP compiled with
 * Asyncify, what transformers.js 4 imports), `jspi` (`onnxruntime-web/jspi`: the same EP with JS Promise
 * Integration in place of Asyncify; needs `WebAssembly.Suspending`), `wasm` (`onnxruntime-web/wasm`: the CPU
 * provider only, no GPU code).
 */
export type OrtBundle = 'default' | 'webgpu' | 'jspi' | 'wasm';

interface OrtWebArgs {
  modelUrl: string;
  preprocessUrl: string;
  imageUrls: string[];
  threads: number;
  batch: number;
  /** Default `default`. `as-app`: the build the app runs `ep` with (ort-engine.ts `runtimeFor`). */
  bundle?: OrtBundle | 'as-app';
  /** Default `wasm`. */
  ep?: 'wasm' | 'webgpu';
  /** Return the embeddings (n×dim, as the model gives them) for a parity check. */
  keepEmbeddings?: boolean;
}

/** One build per worker: each is imported only when asked for (a worker is never reused across builds). */
function importOrt(bundle: OrtBundle): Promise<typeof import('onnxruntime-web')> {
  if (bundle === 'webgpu') return import('onnxruntime-web/webgpu');
  if (bundle === 'jspi') return import('onnxruntime-web/jspi');
  if (bundle === 'wasm') return import('onnxruntime-web/wasm');
  return import('onnxruntime-web');
}

interface TransformersArgs {
  /** Base URL under which `<id>/config.json`, `<id>/onnx/vision_model.onnx`… are served. */
  modelBase: string;
  id: string;
  imageUrls: string[];
  /** null: leave onnxruntime-web's own default (what a user of transformers.js gets). */
  threads: number | null;
  batch: number;
  wasmBase: string;
  /** Default `wasm`. */
  device?: 'wasm' | 'webgpu';
}

export interface PeerTiming {
  images: number;
  /** Wall time of the timed part, ms. */
  ms: number;
  imagesPerSec: number;
  /** Model calls only, ms (both peers). */
  inferMs: number;
  /** Session / model creation, ms (not in `ms`). */
  loadMs: number;
  /** Making the tensors (c: untimed preparation; d: inside `ms`). */
  prepMs: number;
  /** onnxruntime-web's WASM thread count during the run. */
  threadsUsed?: number;
  /** (c) the build and execution provider that ran. */
  bundle?: OrtBundle;
  ep?: string;
  /** (c) with keepEmbeddings: the output rows concatenated, n×dim (a plain array: it crosses into Node). */
  embeddings?: number[];
}

/** (c) The runtime's own limit: the same ONNX file and thread count, tensors made beforehand. */
async function ortweb(a: OrtWebArgs): Promise<PeerTiming> {
  const ep = a.ep ?? 'wasm';
  const bundle: OrtBundle = a.bundle === 'as-app' ? (ep === 'webgpu' ? gpuBuild() : 'wasm') : (a.bundle ?? 'default');
  const ort = await importOrt(bundle);
  ort.env.wasm.numThreads = a.threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const cfg = parsePreprocessConfig((await (await fetch(a.preprocessUrl)).json()) as Record<string, unknown>);
  const { width, height } = outputSize(cfg);
  const plane = 3 * width * height;
  const tp = performance.now();
  const tensors: Float32Array[] = [];
  for (let s = 0; s < a.imageUrls.length; s += a.batch) {
    const urls = a.imageUrls.slice(s, s + a.batch);
    const px = new Float32Array(urls.length * plane);
    for (let k = 0; k < urls.length; k++) {
      const blob = await (await fetch(urls[k]!)).blob();
      preprocessRgb(await decodeImage(blob, urls[k]!, cfg, 'pil'), cfg, px, k * plane);
    }
    tensors.push(px);
  }
  const prepMs = performance.now() - tp;
  const tl = performance.now();
  const bytes = new Uint8Array(await (await fetch(a.modelUrl)).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, {
    // One provider and no fallback: session creation fails when it is unavailable.
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
  });
  const loadMs = performance.now() - tl;
  const input = session.inputNames.includes('pixel_values') ? 'pixel_values' : session.inputNames[0]!;
  const output = session.outputNames.includes('image_embeds') ? 'image_embeds' : session.outputNames[0]!;
  // One warm-up batch, as the app's model check does at load.
  const warm = new ort.Tensor('float32', tensors[0]!.slice(0, plane), [1, 3, height, width]);
  await session.run({ [input]: warm }, [output]);
  const rows: Float32Array[] = [];
  const t0 = performance.now();
  for (const px of tensors) {
    const n = px.length / plane;
    const res = await session.run({ [input]: new ort.Tensor('float32', px, [n, 3, height, width]) }, [output]);
    const data = await res[output]!.getData(true);
    if (a.keepEmbeddings) rows.push(data as Float32Array);
  }
  const ms = performance.now() - t0;
  await session.release();
  const images = a.imageUrls.length;
  const embeddings = a.keepEmbeddings ? Array.from(concatArrays(rows, (n) => new Float32Array(n))) : undefined;
  return { images, ms, imagesPerSec: (images * 1000) / ms, inferMs: ms, loadMs, prepMs, bundle, ep, embeddings };
}

/** (d) The peer a user would pick: CLIPVisionModelWithProjection + AutoProcessor, fp32 on WASM (or WebGPU). */
async function transformers(a: TransformersArgs): Promise<PeerTiming> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = a.modelBase;
  env.useBrowserCache = false;
  const onnx = env.backends.onnx as { wasm?: { numThreads?: number; wasmPaths?: unknown } };
  if (onnx.wasm) {
    if (a.threads !== null) onnx.wasm.numThreads = a.threads;
    // transformers.js points at a CDN by default; this machine is offline, so its own copy is served.
    onnx.wasm.wasmPaths = {
      mjs: `${a.wasmBase}ort-wasm-simd-threaded.asyncify.mjs`,
      wasm: `${a.wasmBase}ort-wasm-simd-threaded.asyncify.wasm`,
    };
  }
  const tl = performance.now();
  const processor = await AutoProcessor.from_pretrained(a.id);
  const model = await CLIPVisionModelWithProjection.from_pretrained(a.id, {
    device: a.device ?? 'wasm',
    dtype: 'fp32',
  });
  // The same warm-up as (c).
  await model(await processor(await RawImage.read(a.imageUrls[0]!)));
  const loadMs = performance.now() - tl;
  let inferMs = 0;
  let prepMs = 0;
  const t0 = performance.now();
  for (let s = 0; s < a.imageUrls.length; s += a.batch) {
    const tp = performance.now();
    const images = await Promise.all(a.imageUrls.slice(s, s + a.batch).map((u) => RawImage.read(u)));
    const inputs = await processor(images);
    const ti = performance.now();
    prepMs += ti - tp;
    const out = (await model(inputs)) as { image_embeds: { data: Float32Array } };
    void out.image_embeds.data.length;
    inferMs += performance.now() - ti;
  }
  const ms = performance.now() - t0;
  await model.dispose();
  const images = a.imageUrls.length;
  const threadsUsed = onnx.wasm?.numThreads;
  return { images, ms, imagesPerSec: (images * 1000) / ms, inferMs, loadMs, prepMs, threadsUsed };
}

/** What the worker's browser offers: JSPI (`WebAssembly.Suspending`) and the WebGPU adapter it would get. */
async function probe(): Promise<{ jspi: boolean; adapter: string | null; fallbackAdapter: boolean | null }> {
  const jspi = typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function';
  const adapter = (await (self.navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter()) ?? null;
  const i = adapter?.info;
  return {
    jspi,
    adapter: i ? [i.vendor, i.architecture, i.description].filter(Boolean).join(' / ') || 'unknown' : null,
    fallbackAdapter: i ? ((i as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? null) : null,
  };
}

const commands = { ortweb, transformers, probe } as const;

self.onmessage = async (e: MessageEvent<{ id: number; cmd: keyof typeof commands; args: never }>) => {
  const { id, cmd, args } = e.data;
  try {
    self.postMessage({ id, result: await commands[cmd](args) });
  } catch (err) {
    self.postMessage({ id, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
};
