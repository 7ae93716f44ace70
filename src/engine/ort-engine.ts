/**
 * The only module that imports onnxruntime-web. It detects backends, creates sessions with an explicit
 * execution provider (onnxruntime-web silently drops unavailable providers, so we never pass a list
 * and hope), serializes `run()` per session, and releases sessions on dispose.
 */
import type * as ortTypes from 'onnxruntime-web';
import { WorkbenchError } from '../data/errors';
import { RuntimeGate } from './runtime-gate';
import { externalizeWeights } from '../core/onnx-external';
import { free, type ExternalWeights } from '../core/onnx-split';

export type Backend = 'webgpu' | 'wasm';

type Ort = typeof ortTypes;
/**
 * onnxruntime-web's builds this app runs: `/wasm` (CPU only) for WASM sessions; for WebGPU sessions `/jspi`,
 * or the default bundle (WebGPU through JSEP) where the browser has no JSPI.
 */
export type OrtBuild = 'wasm' | 'default' | 'jspi';

/**
 * The build that runs WebGPU sessions: `onnxruntime-web/jspi` (the native C++ WebGPU execution provider,
 * with JS Promise Integration) where the browser has `WebAssembly.Suspending`, else the default bundle
 * (WebGPU through JSEP, the JavaScript kernels). Measured on an NVIDIA H200 in headless Chromium 156
 * (B/32-shaped model, 200 CIFAR-10 images, `bench:compare --sections ep`, 4 Dec 2026): JSPI 519, `/webgpu`
 * (the same provider with Asyncify) 462, default 360 images/s.
 */
export function gpuBuild(): 'default' | 'jspi' {
  return typeof (WebAssembly as unknown as { Suspending?: unknown }).Suspending === 'function' ? 'jspi' : 'default';
}

/**
 * WASM sessions run on `onnxruntime-web/wasm`: the same CPU kernels as the other builds without the
 * WebGPU glue, and without the Asyncify instrumentation the default bundle's WASM carries (14.2 against
 * 28.3 MB). In headless Chromium 156 on 2 cores (4 Dec 2026, `npm run bench`, WASM, alternating with the
 * default bundle; README, Backends): the toy model's load 4.1–5.0 against 6.6–7.1 s, 109–117 against
 * 92–103 images/s, peak 703–713 against 757–764 MB; the B/32-shaped model's load 19.8–19.9 against
 * 27.2–28.1 s, 5.26–5.43 against 4.67–4.81 images/s.
 */
let wasmRuntime: Promise<Ort> | null = null;
let gpuRuntime: Promise<Ort> | null = null;
/** The runtime a backend's sessions use, fetched at that backend's first session in this worker. */
function runtimeFor(backend: Backend): Promise<Ort> {
  if (backend === 'wasm') return (wasmRuntime ??= import('onnxruntime-web/wasm'));
  gpuRuntime ??= gpuBuild() === 'jspi' ? import('onnxruntime-web/jspi') : import('onnxruntime-web');
  return gpuRuntime;
}

export interface BackendProbe {
  webgpu: boolean;
  shaderF16: boolean;
  /** Vendor / architecture / description of the adapter, for the record. */
  adapter: string | null;
  crossOriginIsolated: boolean;
  wasmThreads: number;
  /** The adapter says it is a software/fallback one (`GPUAdapterInfo.isFallbackAdapter`). */
  fallbackAdapter: boolean;
  /** navigator.hardwareConcurrency. */
  cores: number;
}

let gpuAdapter: GPUAdapter | null = null;

/** Look for a WebGPU adapter and the wasm thread count this page can use. */
export async function probeBackends(): Promise<BackendProbe> {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  // Every core, up to 4: measured on 2 cores, 2 threads beat 1 by 1.5× (transformers.js 3.4 → 5.25
  // images/s, issue 12), and decoding runs in its own workers between inference calls. Auto's timing
  // (backend-choice.ts) compares backends at this count; `setWasmThreads` overrides it.
  const wasmThreads = isolated ? (threadsOverride ?? Math.max(1, Math.min(4, cores))) : 1;
  let adapter: GPUAdapter | null;
  try {
    adapter = (await globalThis.navigator?.gpu?.requestAdapter({ powerPreference: 'high-performance' })) ?? null;
  } catch {
    adapter = null;
  }
  gpuAdapter = adapter;
  const info = adapter?.info;
  const desc = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') : null;
  return {
    webgpu: adapter !== null,
    shaderF16: adapter?.features.has('shader-f16') ?? false,
    adapter: adapter ? desc || 'unknown adapter' : null,
    crossOriginIsolated: isolated,
    wasmThreads,
    // Undefined on Chromium before 131 (then the description is checked for SwiftShader instead).
    fallbackAdapter: (info?.isFallbackAdapter as boolean | undefined) ?? false,
    cores,
  };
}

let threadsOverride: number | null = null;
/**
 * Force the WASM thread count (the bench's thread sweep, a user's choice). onnxruntime-web reads it
 * once, when its WASM module starts: call before the first session in this worker.
 */
export function setWasmThreads(n: number | null): void {
  threadsOverride = n;
}

const configured = new WeakSet<object>();
let threadsInUse: number | null = null;
/** The WASM thread count this worker's WASM runtime started with (null before its first WASM session). */
export function wasmThreadsInUse(): number | null {
  return threadsInUse;
}

/** Settings each runtime reads when its WASM module starts, at its first session. */
function configure(ort: Ort, backend: Backend, probe: BackendProbe): void {
  if (configured.has(ort.env)) return;
  configured.add(ort.env);
  if (backend === 'wasm') threadsInUse = probe.wasmThreads;
  ort.env.wasm.numThreads = probe.wasmThreads;
  ort.env.wasm.proxy = false; // we are already in a worker
  ort.env.logLevel = 'error';
  if (backend === 'webgpu' && gpuAdapter) ort.env.webgpu.adapter = gpuAdapter;
}

/** The GPU device onnxruntime-web created, once a WebGPU session exists. */
export async function webgpuDevice(): Promise<GPUDevice | null> {
  try {
    if (!gpuRuntime) return null;
    const ort = await gpuRuntime;
    return ((await ort.env.webgpu.device) as GPUDevice | undefined) ?? null;
  } catch {
    return null;
  }
}

export type TensorType = 'float32' | 'float16' | 'int64' | 'int32';
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** A tensor as plain data, so callers never touch ort types. */
export interface HostTensor {
  type: TensorType;
  data: TensorData;
  dims: number[];
}

/** The name a WASM session mounts a model file's own weights as (core/onnx-external.ts, onnx-split.ts). */
export function weightsLocation(file: string): string {
  return `${file.split('/').pop()}.weights`;
}

/** One external-data file of an ONNX model: the name the graph refers to and its bytes. */
export interface ExternalData {
  path: string;
  data: Uint8Array;
}

/**
 * Runs of every session in this worker, in order. The JSEP build lets one `run()` be in flight per
 * runtime, whatever the session ("Session already started" otherwise), so the queue is per worker.
 */
let runQueue: Promise<unknown> = Promise.resolve();

/** Raised while a WASM run is in this worker's runtime, for the decode workers (see runtime-gate.ts). */
let gate: RuntimeGate | null = null;
export function setRuntimeGate(buffer: SharedArrayBuffer | null): void {
  gate = buffer ? new RuntimeGate(buffer) : null;
}

/** Milliseconds this worker's runtime has spent in `run()` calls, per tower of the model (for the bench). */
const busy = new Map<string, number>();
export function runtimeBusyMs(): Record<string, number> {
  return Object.fromEntries(busy);
}

/**
 * `p`, or a rejection as soon as the GPU device is lost: a WebGPU run in flight when the device goes
 * may never settle (its read-back is unmapped under it), and it must not hold the run queue forever.
 */
async function untilDeviceLost<T>(p: Promise<T>): Promise<T> {
  const device = await webgpuDevice();
  if (!device) return p;
  const lost = device.lost.then((info) => {
    throw new WorkbenchError('backend-unavailable', `The GPU device was lost (${info.message || info.reason}).`);
  });
  return Promise.race([p, lost]);
}

/** One inference session on one backend; runs are queued (worker-wide) so they never overlap. */
export class EngineSession {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Element type of each input, from the model's metadata (`float32`, `float16`, `int64`…). */
  readonly inputTypes: Record<string, string>;
  private session: ortTypes.InferenceSession | null;

  private constructor(
    private readonly ort: Ort,
    session: ortTypes.InferenceSession,
    backend: Backend,
    /** The model file, as named in messages and in `runtimeBusyMs`. */
    readonly label: string,
  ) {
    this.session = session;
    this.backend = backend;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    this.inputTypes = {};
    for (const m of session.inputMetadata) {
      this.inputTypes[m.name] = m.isTensor ? m.type : 'unknown';
    }
  }

  /**
   * Create a session on exactly `backend`; `file` names the model file in error messages.
   * `externalData`: the weights of a model stored outside its protobuf (`<file>.onnx_data`, for models over
   * 2 GB), each with the path the graph refers to it by (its file name).
   */
  static async create(
    bytes: Uint8Array,
    backend: Backend,
    probe: BackendProbe,
    file: string,
    externalData?: readonly ExternalData[],
  ): Promise<EngineSession> {
    if (backend === 'webgpu' && !probe.webgpu) {
      throw new WorkbenchError('backend-unavailable', 'WebGPU was requested but this browser has no WebGPU adapter.');
    }
    const ort = await runtimeFor(backend);
    configure(ort, backend, probe);
    // The weights load as external data pointing into the file itself (core/onnx-external.ts), so the heap,
    // which never shrinks, does not also hold the file and its parsed copy while the session is made. On
    // WebGPU onnxruntime uploads each external weight from JS straight into its GPU buffer: the heap holds
    // the graph alone.
    const location = weightsLocation(file);
    const graph = !externalData?.length ? externalizeWeights(bytes, location) : null;
    const external = graph ? [{ path: location, data: bytes }] : (externalData ?? []);
    return EngineSession.open(ort, graph ?? bytes, backend, file, external);
  }

  /**
   * A session from a model split as it was read (core/onnx-split.ts, with `weightsLocation(file)`): each
   * weight is freed once onnxruntime has copied it into the heap (WASM) or uploaded it to its GPU buffer
   * (WebGPU), so the file and the runtime's copy of it never add up. The weights and the graph are all freed
   * when this returns. Null when onnxruntime asked for a weight twice, or for bytes that are not one: make
   * the session from the whole file then.
   */
  static async createSplit(
    split: { graph: Uint8Array<ArrayBuffer>; weights: ExternalWeights; moved: number },
    backend: Backend,
    probe: BackendProbe,
    file: string,
  ): Promise<EngineSession | null> {
    if (backend === 'webgpu' && !probe.webgpu) {
      throw new WorkbenchError('backend-unavailable', 'WebGPU was requested but this browser has no WebGPU adapter.');
    }
    const external = split.moved > 0 ? [{ path: weightsLocation(file), data: split.weights }] : [];
    try {
      const ort = await runtimeFor(backend);
      configure(ort, backend, probe);
      return await EngineSession.open(ort, split.graph, backend, file, external);
    } catch (e) {
      if (split.weights.refused) return null;
      throw e;
    } finally {
      split.weights.release();
      // onnxruntime copied the graph into its heap; with nothing moved it is the whole file.
      free(split.graph);
    }
  }

  private static async open(
    ort: Ort,
    model: Uint8Array,
    backend: Backend,
    file: string,
    external: readonly ExternalData[],
  ): Promise<EngineSession> {
    try {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [backend],
        graphOptimizationLevel: 'all',
        ...(external.length ? { externalData: external.map((e) => ({ path: e.path, data: e.data })) } : {}),
        // Node-placement notices are expected (shape ops run on CPU by design); keep real errors only.
        logSeverityLevel: 3,
      });
      return new EngineSession(ort, session, backend, file);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      // An operator this backend has no kernel for (or nobody does): name it and offer the other backend.
      const op =
        /Could not find an implementation for (\w+)/.exec(why)?.[1] ??
        /No Op registered for (\w+)/.exec(why)?.[1] ??
        /[\w.]*:(\w+)\(-?\d+\) is not a registered function\/op/.exec(why)?.[1];
      if (op) {
        const [name, other] = backend === 'webgpu' ? ['WebGPU', 'WASM'] : ['WASM', 'WebGPU'];
        throw new WorkbenchError(
          'backend-unavailable',
          `${file} uses the operator ${op}, which the ${name} backend cannot run. Choose the ${other} backend ` +
            `and load again, or use a model exported with standard ONNX operators. (${why})`,
          file,
        );
      }
      if (/protobuf|parse|invalid model|load model/i.test(why)) {
        throw new WorkbenchError('model-file-corrupt', `${file} could not be read as an ONNX model (${why}).`, file);
      }
      throw new WorkbenchError('backend-unavailable', `${file} could not be loaded on ${backend}: ${why}`, file);
    }
  }

  /** Run with the given inputs and return the requested outputs as host arrays. */
  run(feeds: Record<string, HostTensor>, outputs: string[]): Promise<Record<string, HostTensor>> {
    const job = runQueue.then(() =>
      this.backend === 'webgpu' ? untilDeviceLost(this.runNow(feeds, outputs)) : this.runNow(feeds, outputs),
    );
    runQueue = job.catch(() => undefined);
    return job;
  }

  private runNow(feeds: Record<string, HostTensor>, outputs: string[]): Promise<Record<string, HostTensor>> {
    return (async () => {
      const s = this.session;
      if (!s) throw new WorkbenchError('internal', 'The session was disposed.');
      const ortFeeds: Record<string, ortTypes.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor(t.type, t.data, t.dims);
      const g = this.backend === 'wasm' ? gate : null;
      const t0 = performance.now();
      g?.enter();
      let res: ortTypes.InferenceSession.ReturnType;
      try {
        res = await s.run(ortFeeds, outputs);
      } finally {
        g?.leave();
        busy.set(this.label, (busy.get(this.label) ?? 0) + performance.now() - t0);
      }
      const out: Record<string, HostTensor> = {};
      for (const name of outputs) {
        const t = res[name];
        if (!t) throw new WorkbenchError('internal', `The model gave no output named ${name}.`);
        const data = (await t.getData(true)) as TensorData;
        out[name] = { type: t.type as TensorType, data, dims: [...t.dims] };
      }
      for (const t of Object.values(ortFeeds)) t.dispose();
      return out;
    })();
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    await runQueue;
    await s?.release();
  }
}
