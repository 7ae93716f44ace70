/**
 * Auto's backend, chosen by measurement. A WebGPU adapter is not proof of a fast GPU: Chromium's software
 * adapter (SwiftShader, `isFallbackAdapter`) and blocklisted laptop GPUs run far slower than WASM threads on the
 * same CPU (issue 12: 2.7 against 54.4 images/s). So on the first load of a model on a device, Auto times both
 * backends on real-size batches of the vision tower (cold: the file read, the session made and the first run;
 * warm: the best of the next runs), keeps the faster, and the page remembers the choice per (vision-file
 * fingerprint, device) so later loads skip the timing. WebGPU's trial stops as soon as it has clearly lost, so a
 * software adapter costs seconds, not minutes.
 *
 * Where WASM is timed depends on the adapter. On a software adapter, where WASM wins, two runtimes of the
 * WASM build (ort-engine.ts `runtimeFor`) start: the model worker's own (WASM at its thread count, timed
 * where it will run) and one trial worker's (WASM at the other count). On a GPU adapter, where WebGPU wins,
 * the model worker's runtime is not started for a trial: its heap, grown to hold the tower, never shrinks,
 * and it stayed beside the GPU sessions for the page's life. There a trial worker times WASM at the default
 * count, and only when WASM wins does a second one time the other count; the model worker's runtime is then
 * a third start. Each trial worker is closed before the next starts. The last times WebGPU on the build
 * WebGPU sessions use (`gpuBuild`: JSPI where the browser has it). Measured in headless Chromium 156 (scripts
 * in the bench): a third start of the same runtime's WASM module in one renderer sets V8 compiling it in the
 * background for about 30 s of one core (40 CPU-seconds with the toy model, after a load that took 8 s),
 * whether the earlier workers were alive or not; two starts cost nothing extra. With a runtime per thread
 * count plus one for WebGPU, Auto ran at 0.57× forced WASM right after its load.
 */
import * as Comlink from 'comlink';
import { cancelledError } from '../data/errors';
import type { ModelFiles } from '../data/model-fetch';
import type { ModelSource } from '../data/model-files';
import { float32ToHalf } from '../core/float16';
import { within } from '../core/within';
import { setWasmThreads, wasmThreadsInUse, type Backend, type BackendProbe, type HostTensor } from './ort-engine';
import { towerSession, type TowerRead } from './tower-files';
import type { BackendTrialApi } from '../../workers/backend-trial.worker';

/**
 * Images per timed batch: WASM's is the batch the model worker runs there. WebGPU's trial times each size
 * in WEBGPU_BATCHES and keeps the faster per image: on an NVIDIA H200 (stop 33) the trial's warm batch of
 * 16 took 4.2 ms per image where onnxruntime-web alone took 2.3–2.6 at 8, so the size is measured rather
 * than assumed. The first size is timed first (a software adapter loses on it, as before) and is the model
 * worker's WebGPU batch when there is no timing (a forced backend).
 */
export const TRIAL_BATCH: Record<Backend, number> = { webgpu: 16, wasm: 8 };
export const WEBGPU_BATCHES: readonly number[] = [TRIAL_BATCH.webgpu, 8];
/**
 * On a software adapter WebGPU's cold step is one image, before any size is timed. A batch past its limit
 * cannot be stopped, and its work goes on in the GPU process after the trial worker is gone, where the
 * page's frames wait behind it: B/32 on this project's SwiftShader takes about 17 s per image, and after
 * Auto's load with an abandoned batch of 16 the page got no frame for 215 s (README, Backends). One image
 * is less work than any batch timed, so if it cannot meet the cold limit, no batch would have; it leaves a
 * sixteenth of that behind (12.6 s there). When it passes, it runs once more, warm, under the warm limit
 * for one image, so that a batch of 16 is queued only where one image is within twice what WASM needs.
 */
export const PROBE_BATCH = 1;
/** Warm runs after the cold one; the best of them is the warm figure. */
const WARM_RUNS = 2;
/** Limits on WebGPU's trial relative to WASM's (see chooseBackend). */
const GPU_COLD_FACTOR = 1.5;
const MIN_GPU_COLD_MS = 5000;
const GPU_WARM_FACTOR = 2;
/** The least a warm WebGPU batch of TRIAL_BATCH.webgpu images may take before it has lost, ms. */
const MIN_GPU_WARM_MS = 250;

/**
 * A vision file to time, named rather than read: a trial worker opens it from the picked folder or the
 * download cache itself (`towerSession`), split as it is read, so no worker holds the file whole beside the
 * weights the runtime copies or uploads. The source is plain data (a picked folder's `File`s clone by
 * reference).
 */
export interface TrialTower {
  source: ModelSource;
  path: string;
}

export interface BackendTiming {
  /** The file read from the folder or the download cache, the session made, and the first batch, ms. */
  coldMs: number;
  /** Images in that first batch where it was not a timed size: PROBE_BATCH, a software adapter's first step. */
  coldBatch?: number;
  /** Best later batch, ms (null when the trial ran out of time before one). */
  warmMs: number | null;
  /** The batch size of `warmMs` (WebGPU: the faster per image of those timed). */
  batch: number;
  /** WebGPU: every batch size timed, with its best warm batch (null when none finished in time). */
  batches?: { batch: number; warmMs: number | null }[];
  /** Images per second at the warm figure (0 when there is none). */
  imagesPerSec: number;
  /** The trial was stopped after this many ms without finishing. */
  timedOutAfterMs?: number;
  /** WASM: the thread count of this figure (the best of those timed). */
  threads?: number;
  /** WASM: every thread count timed, in order (one where the runtime already ran, or WebGPU won on a GPU). */
  threadsTimed?: number[];
  /** How the trial read its file: split as it was read, or whole (towerSession); absent if it was not opened. */
  readAs?: TowerRead;
}

/** The WASM thread count a decision asks for: the fastest timed, else the one it ran with. */
export function preferredThreads(d: BackendDecision): number {
  return d.timings.wasm?.threads ?? d.wasmThreads;
}

export interface BackendDecision {
  backend: Backend;
  /** measured now; remembered from an earlier measurement; forced by the user; the only backend here. */
  how: 'measured' | 'remembered' | 'forced' | 'only-backend';
  timings: { webgpu: BackendTiming | null; wasm: BackendTiming | null };
  /** Fingerprint of the timed vision file + the device; what the page remembers the choice under. */
  key: string;
  /** The adapter is a software/fallback one (SwiftShader, `isFallbackAdapter`). */
  fallbackAdapter: boolean;
  /**
   * The thread count this worker's runtime runs WASM with. It can differ from `timings.wasm.threads` (the
   * faster count timed): the runtime fixes its count when it starts, and on a software adapter the model
   * worker's runtime starts at the default count to be timed in place. The faster count then applies from the
   * next page load. On a GPU adapter the runtime is not started for a trial, and this is the faster count.
   */
  wasmThreads: number;
  /** When the figures were measured (ms since epoch). */
  measuredAt: number | null;
}

export interface ChooseBackendOptions {
  requested: 'auto' | Backend;
  probe: BackendProbe;
  /** Earlier decisions, by key (the page keeps them). */
  remembered?: Record<string, BackendDecision>;
  /** Time again even when a decision is remembered. */
  remeasure?: boolean;
  /** Vision tower input, px. */
  imageSize: { width: number; height: number };
  /** The model's files (in place, WASM is timed on a session opened from them). */
  files: ModelFiles;
  /** The vision file each backend would run (dtype may differ per backend). */
  visionPath: (b: Backend) => string;
  /** `hashParts([file])` of WASM's vision file (the decision's key), made as it streams in where it can be. */
  visionHash: () => Promise<string>;
  signal?: AbortSignal;
}

/** Software adapters report `isFallbackAdapter` (newer Chromium) or name SwiftShader in the description. */
export function isSoftwareAdapter(probe: BackendProbe): boolean {
  return probe.fallbackAdapter || /swiftshader|llvmpipe|software|basic render/i.test(probe.adapter ?? '');
}

/** The device part of the key: what makes timings on one machine/browser differ from another. */
export function deviceKey(probe: BackendProbe): string {
  return [probe.adapter ?? 'no-gpu', probe.fallbackAdapter ? 'fallback' : 'hw', `cores=${probe.cores}`].join('|');
}

/** Deterministic stand-in pixels (a smooth gradient in roughly normalized units), n×3×h×w. */
function trialPixels(n: number, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(n * 3 * plane);
  for (let i = 0; i < out.length; i++) out[i] = ((i % plane) / plane) * 2 - 1 + (Math.floor(i / plane) % 3) * 0.1;
  return out;
}

/** How long a trial may take before it has lost (Infinity: no limit). */
export interface TrialLimits {
  /** Session creation + first batch, ms; also the limit on the first batch of each further size. */
  coldMs: number;
  /** One warm batch, ms per image in it. */
  warmMsPerImage: number;
}

/** No limit: WASM's trials run to the end (WebGPU's limits are drawn from them). */
const NO_LIMIT: TrialLimits = { coldMs: Infinity, warmMsPerImage: Infinity };

/** The WebGPU batch a decision's timing asks for: its faster size timed, or null without a warm figure. */
export function timedGpuBatch(d: BackendDecision): number | null {
  const t = d.timings.webgpu;
  return t && t.warmMs !== null && t.timedOutAfterMs === undefined ? t.batch : null;
}

/**
 * Time one backend: open the vision file `path` of `files` as a session (towerSession: split as it is read
 * from the picked folder or the download cache) and run each batch size (WASM: TRIAL_BATCH.wasm; WebGPU: each
 * of WEBGPU_BATCHES), a cold batch then WARM_RUNS warm ones, and release it. The first size's cold batch
 * includes the read and the session's creation (on a software adapter, a batch of PROBE_BATCH images before it
 * is the cold one, then runs warm under the warm limit); a later size's first batch is not timed (on WebGPU a
 * new shape compiles its kernels). The figure is the size with the lowest warm time per image. A step past its
 * limit on the first size ends the trial (reported in `timedOutAfterMs`); on a later size it ends only that
 * size's timing. A step cannot be stopped, so the session is released once the step settles.
 */
export async function timeBackend(
  files: ModelFiles,
  path: string,
  backend: Backend,
  probe: BackendProbe,
  imageSize: { width: number; height: number },
  limits: TrialLimits = NO_LIMIT,
  signal?: AbortSignal,
): Promise<BackendTiming> {
  const sizes = backend === 'webgpu' ? WEBGPU_BATCHES : [TRIAL_BATCH.wasm];
  const t0 = performance.now();
  let readAs: { readAs?: TowerRead } = {};
  const session = towerSession(files, path, backend, probe, { signal }).then((t) => {
    readAs = { readAs: t.from };
    return t.session;
  });
  let released = false;
  const feeds = new Map<number, Record<string, HostTensor>>();
  const run = async (batch: number) => {
    const s = await session;
    const name = s.inputNames.includes('pixel_values') ? 'pixel_values' : s.inputNames[0]!;
    let feed = feeds.get(batch);
    if (!feed) {
      const px = trialPixels(batch, imageSize.width, imageSize.height);
      const dims = [batch, 3, imageSize.height, imageSize.width];
      feed = {
        [name]:
          s.inputTypes[name] === 'float16'
            ? { type: 'float16', data: float32ToHalf(px), dims }
            : { type: 'float32', data: px, dims },
      };
      feeds.set(batch, feed);
    }
    await s.run(feed, [s.outputNames[0]!]);
  };
  /** One batch within `ms`: its time, or null when it ran past (the session is then released once it settles). */
  const step = async (batch: number, ms: number, since = performance.now()): Promise<number | null> => {
    const p = run(batch);
    if ((await within(p, ms)) === null && performance.now() - since >= ms) {
      released = true;
      const dispose = () => session.then((s) => s.dispose());
      void p.then(dispose, dispose);
      return null;
    }
    return performance.now() - since;
  };

  const figures: { batch: number; warmMs: number | null }[] = [];
  let coldMs: number | null = null;
  const probed = backend === 'webgpu' && isSoftwareAdapter(probe);
  const coldBatch = probed ? { coldBatch: PROBE_BATCH } : {};
  const lost = (batch: number): BackendTiming => {
    const after = Math.round(performance.now() - t0);
    const timedOutAfterMs = after;
    return { coldMs: coldMs ?? after, ...coldBatch, warmMs: null, batch, imagesPerSec: 0, timedOutAfterMs, ...readAs };
  };
  if (probed) {
    const cold = await step(PROBE_BATCH, limits.coldMs, t0);
    if (cold === null) return lost(PROBE_BATCH);
    coldMs = cold;
    // The one image again, warm, under the warm limit: past it, WebGPU has lost before any batch of 16 is
    // queued (one that runs past its own limit would be left behind, not stopped).
    if ((await step(PROBE_BATCH, limits.warmMsPerImage * PROBE_BATCH)) === null) return lost(PROBE_BATCH);
  }
  for (const [k, batch] of sizes.entries()) {
    if (signal?.aborted) break;
    const cold = await step(batch, limits.coldMs, coldMs === null ? t0 : undefined);
    if (cold === null && k === 0) return lost(batch);
    if (cold === null) break;
    coldMs ??= cold;
    let warmMs: number | null = null;
    for (let r = 0; r < WARM_RUNS && !signal?.aborted && !released; r++) {
      const t = await step(batch, limits.warmMsPerImage * batch);
      if (t !== null) warmMs = Math.min(warmMs ?? Infinity, t);
    }
    figures.push({ batch, warmMs });
    if (released && k === 0) return { ...lost(batch), warmMs };
    if (released) break;
  }
  if (!released) await (await session).dispose();
  if (signal?.aborted) throw cancelledError();
  const msPerImage = (f: { batch: number; warmMs: number | null }) => (f.warmMs ?? Infinity) / f.batch;
  const best = figures.reduce<(typeof figures)[number] | null>(
    (m, f) => (!m || msPerImage(f) < msPerImage(m) ? f : m),
    null,
  );
  const warmMs = best?.warmMs ?? null;
  const batch = best?.batch ?? sizes[0]!;
  return {
    coldMs: coldMs ?? 0,
    ...coldBatch,
    warmMs,
    batch,
    imagesPerSec: warmMs ? (batch * 1000) / warmMs : 0,
    ...(backend === 'webgpu' ? { batches: figures } : {}),
    ...readAs,
  };
}

/**
 * A throwaway worker (workers/backend-trial.worker.ts) whose runtime starts with `threads` WASM threads:
 * it times WASM at that count, or WebGPU, and is terminated after, so a batch still crawling on a
 * software adapter never holds up the model worker's runs, and its memory goes with it.
 */
class TrialWorker {
  private readonly worker = new Worker(new URL('../../workers/backend-trial.worker.ts', import.meta.url), {
    type: 'module',
  });
  private readonly api = Comlink.wrap<BackendTrialApi>(this.worker);
  constructor(private readonly threads: number) {}

  /** Time `tower` there: the worker opens the file itself. */
  time(tower: TrialTower, backend: Backend, imageSize: { width: number; height: number }, limits: TrialLimits) {
    return this.api.time(tower, backend, imageSize, limits, this.threads);
  }

  close(): void {
    this.worker.terminate();
  }
}

/** Thread counts worth timing: every core up to 4 (the default, first) and half as many. */
function threadCandidates(probe: BackendProbe): number[] {
  if (!probe.crossOriginIsolated) return [1];
  return [...new Set([probe.wasmThreads, Math.max(1, Math.floor(probe.wasmThreads / 2))])];
}

/**
 * Start this worker's runtime with `n` threads: later sessions read the count from `probe` (the same
 * object the model load goes on with) and `setWasmThreads` keeps later probes in step.
 */
function useThreads(probe: BackendProbe, n: number): void {
  setWasmThreads(n);
  probe.wasmThreads = n;
}

/** Per-image warm cost, ms; Infinity when a backend has no warm figure. */
function perImage(t: BackendTiming | null): number {
  return t?.warmMs ? t.warmMs / t.batch : Infinity;
}

/**
 * Decide the backend. Forced → that one; no WebGPU adapter → WASM; a remembered decision for this
 * fingerprint and device → it; else time WASM, then WebGPU within a budget, and take the faster warm
 * per-image figure. A WebGPU trial that fails (or runs out of budget) leaves WASM.
 */
export async function chooseBackend(o: ChooseBackendOptions): Promise<BackendDecision> {
  const { probe } = o;
  const base = { fallbackAdapter: isSoftwareAdapter(probe), wasmThreads: probe.wasmThreads };
  const remember = (key: string) => (o.remembered ?? {})[key];
  if (o.requested !== 'auto' || !probe.webgpu) {
    const backend = o.requested === 'auto' ? 'wasm' : o.requested;
    return {
      backend,
      how: o.requested === 'auto' ? 'only-backend' : 'forced',
      timings: { webgpu: null, wasm: null },
      key: '',
      measuredAt: null,
      ...base,
    };
  }
  // The key is hashed as the file streams in: a remembered decision never holds the file whole (B/32: 350 MB).
  const key = `${await o.visionHash()}|${deviceKey(probe)}`;
  const known = remember(key);
  if (known && !o.remeasure) {
    if (wasmThreadsInUse() === null) useThreads(probe, preferredThreads(known));
    return { ...known, how: 'remembered', wasmThreads: probe.wasmThreads };
  }
  if (o.signal?.aborted) throw cancelledError();
  const inUse = wasmThreadsInUse();
  const here = inUse ?? probe.wasmThreads;
  // Once this worker's runtime runs, its count is kept: no other count is worth timing.
  const other = inUse === null ? threadCandidates(probe).find((n) => n !== here) : undefined;
  // Where WASM is timed at `here`. In place (this worker's runtime, started now at that count) on a software
  // adapter, where WASM wins, or once the runtime runs. On a GPU adapter, where WebGPU wins, in a trial
  // worker: a heap grown here to hold the tower never shrinks, and it stayed beside the GPU sessions for the
  // page's life. There this worker's runtime starts only when WASM wins, at the faster count timed.
  const inPlace = inUse !== null || isSoftwareAdapter(probe);
  let wasm: BackendTiming;
  const tower = (b: Backend): TrialTower => ({ source: o.files.source, path: o.visionPath(b) });
  if (inPlace) {
    useThreads(probe, here);
    const t = await timeBackend(o.files, o.visionPath('wasm'), 'wasm', probe, o.imageSize, NO_LIMIT, o.signal);
    wasm = await fasterCount({ ...t, threads: here, threadsTimed: [here] }, other, tower('wasm'), o);
  } else {
    wasm = await inTrialWorker(here, tower('wasm'), 'wasm', o, NO_LIMIT);
  }
  if (o.signal?.aborted) throw cancelledError();
  // WebGPU has lost once its cold start takes GPU_COLD_FACTOR× WASM's (at least MIN_GPU_COLD_MS), or
  // a warm batch takes GPU_WARM_FACTOR× what WASM needs for as many images.
  const limits: TrialLimits = {
    coldMs: Math.max(MIN_GPU_COLD_MS, GPU_COLD_FACTOR * wasm.coldMs),
    warmMsPerImage: Math.max(MIN_GPU_WARM_MS / TRIAL_BATCH.webgpu, GPU_WARM_FACTOR * perImage(wasm)),
  };
  let webgpu: BackendTiming | null;
  try {
    webgpu = await inTrialWorker(here, tower('webgpu'), 'webgpu', o, limits);
  } catch (e) {
    if (o.signal?.aborted) throw e;
    webgpu = null;
  }
  const backend: Backend = perImage(webgpu) < perImage(wasm) ? 'webgpu' : 'wasm';
  if (!inPlace && backend === 'wasm') wasm = await fasterCount(wasm, other, tower('wasm'), o);
  // Not timed in place: this worker's runtime starts, when a session needs it, at the faster count timed.
  if (!inPlace) useThreads(probe, wasm.threads ?? here);
  if (o.signal?.aborted) throw cancelledError();
  return {
    backend,
    how: 'measured',
    timings: { webgpu, wasm },
    key,
    measuredAt: Date.now(),
    ...base,
    wasmThreads: probe.wasmThreads,
  };
}

/** `t` (WASM at its count), or WASM timed at the `other` count in a trial worker where that is faster per image. */
async function fasterCount(
  t: BackendTiming,
  other: number | undefined,
  tower: TrialTower,
  o: ChooseBackendOptions,
): Promise<BackendTiming> {
  if (other === undefined) return t;
  const timed = await inTrialWorker(other, tower, 'wasm', o, NO_LIMIT);
  return { ...(perImage(timed) < perImage(t) ? timed : t), threadsTimed: [...(t.threadsTimed ?? []), other] };
}

/**
 * Time `tower` on `backend` in a trial worker of its own whose runtime starts with `threads` WASM threads,
 * closed after: one at a time, so a WASM heap grown to hold the tower (it never shrinks) is gone before the
 * next trial. WASM figures carry their count.
 */
async function inTrialWorker(
  threads: number,
  tower: TrialTower,
  backend: Backend,
  o: ChooseBackendOptions,
  limits: TrialLimits,
): Promise<BackendTiming> {
  if (o.signal?.aborted) throw cancelledError();
  const trial = new TrialWorker(threads);
  try {
    const t = await trial.time(tower, backend, o.imageSize, limits);
    return backend === 'wasm' ? { ...t, threads, threadsTimed: [threads] } : t;
  } finally {
    trial.close();
  }
}
