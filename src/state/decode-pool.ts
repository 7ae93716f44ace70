/**
 * The run pipeline's pool of decode workers (workers/decode.worker.ts), each wired to the model
 * worker by its own MessageChannel, so decoded pixels go straight to the model worker. The main thread
 * only hands out work (Blobs, a reference each) in a bounded window and hears back per batch.
 */
import * as Comlink from 'comlink';
import '../data/error-transfer';
import type { PreprocessConfig } from '../core/preprocess';
import type { DecodeJob, DecodeWorkerApi } from '../../workers/decode.worker';
import { RuntimeGate } from '../engine/runtime-gate';
import type { Backend } from '../engine/ort-engine';

/**
 * Decode workers for a run on `backend`: one per core, at most 4 (the decode-bound rate scales with the
 * pool; see bench:compare `--sections pool`). On WebGPU the CPU's cores do little else, so half of them, up
 * to 8: on a 16-core machine (stop 33) 8 workers decoded the Oxford Pets photos at 301 images/s against 238
 * with 4, which bounded the app's WebGPU run there. Each worker costs memory while it decodes: with 8
 * instead of 4 the toy model's run on those photos peaked at 1,096–1,108 MB PSS against 856–859 MB (2
 * cores, Chromium 156), so WASM, which the decoders cannot outrun, keeps 4. Where they and the WASM
 * runtime's threads outnumber the cores, they decode only while the runtime is idle (runtime-gate.ts), and
 * then every core is theirs. `?decodeWorkers=N` in the page URL overrides it (the bench's scaling check).
 */
export function poolSize(backend: Backend = 'wasm'): number {
  const forced = Number(new URLSearchParams(globalThis.location?.search ?? '').get('decodeWorkers'));
  if (Number.isInteger(forced) && forced > 0) return Math.min(forced, 16);
  const cores = globalThis.navigator?.hardwareConcurrency ?? 2;
  const cpu = Math.max(1, Math.min(4, cores));
  return backend === 'webgpu' ? Math.max(cpu, Math.min(8, Math.floor(cores / 2))) : cpu;
}

/** Jobs per call into a decode worker: small, so a cancel or a window stop takes effect promptly. */
const JOBS_PER_CALL = 2;
/**
 * Calls in flight per decode worker: while one call's image is read and decoded (the browser decodes off the
 * worker's thread), the other's is resized on it, and the next call is already there when one returns.
 */
const CALLS_PER_WORKER = 2;

export class DecodePool {
  private workers: Comlink.Remote<DecodeWorkerApi>[] = [];
  private threads: Worker[] = [];
  /** The latest start: workers are started one after another, as many as a run asks for. */
  private ready: Promise<void> = Promise.resolve();

  /** The flag the model worker raises while its WASM runtime runs (null without cross-origin isolation). */
  private readonly gate = RuntimeGate.allocate();

  /** `connect` hands the model worker its end of a decode worker's channel, and the pool's runtime flag. */
  constructor(private connect: (port: MessagePort, gate: SharedArrayBuffer | null) => Promise<void>) {}

  /** Start workers until there are `n` (a later run on WebGPU may ask for more than a WASM run did). */
  private start(n: number): Promise<void> {
    // After a failed start (a worker that would not connect), the next run tries again.
    this.ready = this.ready
      .catch(() => undefined)
      .then(async () => {
        while (this.workers.length < n) {
          // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
          const w = new Worker(new URL('../../workers/decode.worker.ts', import.meta.url), { type: 'module' });
          this.threads.push(w);
          const api = Comlink.wrap<DecodeWorkerApi>(w);
          const ch = new MessageChannel();
          await api.connect(Comlink.transfer(ch.port1, [ch.port1]), this.gate);
          await this.connect(Comlink.transfer(ch.port2, [ch.port2]), this.gate);
          this.workers.push(api);
        }
      });
    return this.ready;
  }

  /** Stop every decode worker (their channels lead to a model worker that is gone). */
  terminate(): void {
    this.threads.forEach((w) => w.terminate());
    this.threads = [];
    this.workers = [];
  }

  /**
   * Hand out `jobs` to the pool. `admit(dispatched)` resolves when the window has room for more (the
   * caller counts images the model worker has answered for); stops early when `signal` aborts.
   * `lanes`: how many workers decode (poolSize). `gated`: decode only while the model worker's WASM runtime
   * is idle (see runtime-gate.ts).
   */
  async dispatch(
    jobs: DecodeJob[],
    cfg: PreprocessConfig,
    mode: 'pil' | 'browser',
    admit: (dispatched: number) => Promise<void>,
    signal: AbortSignal,
    lanes: number,
    gated = false,
  ): Promise<void> {
    await this.start(lanes);
    let next = 0;
    const lane = async (w: Comlink.Remote<DecodeWorkerApi>) => {
      while (next < jobs.length && !signal.aborted) {
        await admit(next);
        if (signal.aborted) return;
        const part = jobs.slice(next, next + JOBS_PER_CALL);
        next += part.length;
        await w.decode(part, cfg, mode, gated && this.gate !== null);
      }
    };
    const workers = this.workers.slice(0, lanes);
    await Promise.all(Array.from({ length: CALLS_PER_WORKER }, () => workers.map(lane)).flat());
  }
}
