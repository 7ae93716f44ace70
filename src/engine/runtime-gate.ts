/**
 * Keeps decoding out of the WASM runtime's way when the two would share cores. onnxruntime-web's WASM
 * threads split every operator between them and wait for the slowest: a decode worker that takes one
 * of their cores for a few milliseconds stalls them all. Measured on 2 cores (bench:compare, B/32, 2
 * threads, 1 decode worker, 96 images): with decoding beside the model calls, those calls took 167 ms
 * per CIFAR-10 image and 196 ms per Pets photo, against 138 and 144 ms with nothing beside them, while
 * decoding alone costs 7 and 20 ms per image. So the model worker raises a shared flag while a WASM
 * run is in the runtime, and decode workers, when the pool and the runtime's threads outnumber the
 * cores, start their next image only while it is down.
 *
 * The flag is one Int32 in a SharedArrayBuffer (the page is cross-origin isolated whenever WASM runs
 * on more than one thread; without isolation there is no flag and no gating, and one thread).
 */
export class RuntimeGate {
  private readonly flag: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.flag = new Int32Array(buffer, 0, 1);
  }

  /** A fresh flag's memory, or null where SharedArrayBuffer is unavailable (no cross-origin isolation). */
  static allocate(): SharedArrayBuffer | null {
    return globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function'
      ? new SharedArrayBuffer(4)
      : null;
  }

  /** The model worker: a run is in the runtime. */
  enter(): void {
    Atomics.store(this.flag, 0, 1);
  }

  /** The model worker: the runtime is free again; wake the decode workers waiting on it. */
  leave(): void {
    Atomics.store(this.flag, 0, 0);
    Atomics.notify(this.flag, 0);
  }

  busy(): boolean {
    return Atomics.load(this.flag, 0) === 1;
  }

  /** A decode worker: resolves once no run is in the runtime (at once if none is). */
  async whenFree(): Promise<void> {
    const waitAsync = (
      Atomics as unknown as {
        waitAsync?: (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };
      }
    ).waitAsync;
    while (this.busy()) {
      if (waitAsync) {
        const w = waitAsync(this.flag, 0, 1);
        if (w.async) await w.value;
      } else {
        // Browsers without Atomics.waitAsync: poll; a run lasts tens of milliseconds or more.
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }
}

/** Whether decoding should wait for the runtime: WASM, and more busy threads than cores. */
export function gateDecoding(backend: string, wasmThreads: number, decodeWorkers: number, cores: number): boolean {
  return backend === 'wasm' && wasmThreads > 1 && wasmThreads + decodeWorkers > cores;
}
