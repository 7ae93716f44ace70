/**
 * Test-only worker: Auto's whole choice (src/engine/backend-choice.ts `chooseBackend`) as the model worker
 * makes it, on a probe whose adapter is stated to be a GPU. Chromium here offers only SwiftShader, a software
 * adapter, and there WASM is timed in the model worker, as the app's own tests check. This worker checks the
 * other placement: on a GPU adapter no trial starts this worker's WASM runtime. It counts the trial workers
 * that chooseBackend starts and reports whether this worker's runtime ran afterwards.
 */
import { chooseBackend, type BackendDecision } from '../../src/engine/backend-choice';
import { probeBackends, wasmThreadsInUse } from '../../src/engine/ort-engine';
import { ModelFiles } from '../../src/data/model-fetch';
import { urlSource } from '../../src/data/model-files';

export interface ChooseReply {
  decision: BackendDecision;
  /** Trial workers started, in order: when (ms, this worker's clock) and whether chooseBackend closed it. */
  trials: { started: number; closed: boolean }[];
  /** This worker's WASM thread count after the choice (null: its runtime never started). */
  threadsInUse: number | null;
  /** The thread count this worker's probe asks a WASM runtime to start with: before the choice, and after. */
  startThreads: number;
  probeThreads: number;
  /** Whether the page is cross-origin isolated (WASM threads: more than one count to time). */
  isolated: boolean;
  /** Trial workers alive at once, at most. */
  mostAtOnce: number;
  error?: string;
}

self.onmessage = async (e: MessageEvent<{ url: string }>) => {
  const trials: { started: number; closed: boolean }[] = [];
  let alive = 0;
  let mostAtOnce = 0;
  const Real = self.Worker;
  // Count the trial workers: each is a `new Worker` that chooseBackend terminates when its trial ends.
  self.Worker = class extends Real {
    private readonly entry = { started: performance.now(), closed: false };
    constructor(url: string | URL, options?: WorkerOptions) {
      super(url, options);
      trials.push(this.entry);
      mostAtOnce = Math.max(mostAtOnce, ++alive);
    }
    override terminate(): void {
      if (!this.entry.closed) alive--;
      this.entry.closed = true;
      super.terminate();
    }
  };
  try {
    const probe = { ...(await probeBackends()), adapter: 'a test GPU (stated)', fallbackAdapter: false };
    const startThreads = probe.wasmThreads;
    const decision = await chooseBackend({
      requested: 'auto',
      probe,
      imageSize: { width: 224, height: 224 },
      files: new ModelFiles(urlSource(e.data.url, 'server', 'tiny-random-clip')),
      visionPath: () => 'onnx/vision_model.onnx',
      visionHash: async () => 'test',
    });
    const reply: ChooseReply = {
      decision,
      trials,
      threadsInUse: wasmThreadsInUse(),
      startThreads,
      probeThreads: probe.wasmThreads,
      isolated: probe.crossOriginIsolated,
      mostAtOnce,
    };
    self.postMessage(reply);
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  } finally {
    self.Worker = Real;
  }
};
