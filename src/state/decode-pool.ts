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

/**
 * Decode workers: one per core, at most 4 (the decode-bound rate scales with the pool; see
 * bench:compare `--sections pool`). Where they and the WASM runtime's threads outnumber the cores,
 * they decode only while the runtime is idle (runtime-gate.ts), and then every core is theirs.
 * `?decodeWorkers=N` in the page URL overrides it (the bench's scaling check).
 */
export function poolSize(): number {
  const forced = Number(new URLSearchParams(globalThis.location?.search ?? '').get('decodeWorkers'));
  if (Number.isInteger(forced) && forced > 0) return Math.min(forced, 16);
  const cores = globalThis.navigator?.hardwareConcurrency ?? 2;
  return Math.max(1, Math.min(4, cores));
}

/** Jobs per call into a decode worker: small, so a cancel or a window stop takes effect promptly. */
const JOBS_PER_CALL = 2;

export class DecodePool {
  private workers: Comlink.Remote<DecodeWorkerApi>[] | null = null;
  private threads: Worker[] = [];
  private ready: Promise<void> | null = null;

  /** The flag the model worker raises while its WASM runtime runs (null without cross-origin isolation). */
  private readonly gate = RuntimeGate.allocate();

  /** `connect` hands the model worker its end of a decode worker's channel, and the pool's runtime flag. */
  constructor(
    private connect: (port: MessagePort, gate: SharedArrayBuffer | null) => Promise<void>,
    readonly size = poolSize(),
  ) {}

  private start(): Promise<void> {
    return (this.ready ??= (async () => {
      const workers: Comlink.Remote<DecodeWorkerApi>[] = [];
      for (let i = 0; i < this.size; i++) {
        // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
        const w = new Worker(new URL('../../workers/decode.worker.ts', import.meta.url), { type: 'module' });
        this.threads.push(w);
        const api = Comlink.wrap<DecodeWorkerApi>(w);
        const ch = new MessageChannel();
        await api.connect(Comlink.transfer(ch.port1, [ch.port1]), this.gate);
        await this.connect(Comlink.transfer(ch.port2, [ch.port2]), this.gate);
        workers.push(api);
      }
      this.workers = workers;
    })());
  }

  /** Stop every decode worker (their channels lead to a model worker that is gone). */
  terminate(): void {
    this.threads.forEach((w) => w.terminate());
    this.threads = [];
    this.workers = null;
  }

  /**
   * Hand out `jobs` to the pool. `admit(dispatched)` resolves when the window has room for more (the
   * caller counts images the model worker has answered for); stops early when `signal` aborts.
   * `gated`: decode only while the model worker's WASM runtime is idle (see runtime-gate.ts).
   */
  async dispatch(
    jobs: DecodeJob[],
    cfg: PreprocessConfig,
    mode: 'pil' | 'browser',
    admit: (dispatched: number) => Promise<void>,
    signal: AbortSignal,
    gated = false,
  ): Promise<void> {
    await this.start();
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
    await Promise.all(this.workers!.map(lane));
  }
}
