/**
 * A throwaway worker for one of Auto's trials (see src/engine/backend-choice.ts): WASM at a thread count (a
 * runtime fixes its count when it starts; on a GPU adapter the model worker's runtime is not started for a
 * trial, so both counts are timed in such workers), or WebGPU. A batch on a slow adapter (SwiftShader) cannot
 * be stopped inside onnxruntime-web, and the runtime takes one run at a time, so the trial runs here: once it
 * has lost, the model worker terminates this worker and its own runs go on at once.
 */
import * as Comlink from 'comlink';
import { timeBackend, type TrialLimits, type TrialTower } from '../src/engine/backend-choice';
import { ModelFiles } from '../src/data/model-fetch';
import { probeBackends, setWasmThreads, type Backend } from '../src/engine/ort-engine';
import '../src/data/error-transfer';

const api = {
  async time(
    tower: TrialTower,
    backend: Backend,
    imageSize: { width: number; height: number },
    limits: TrialLimits,
    threads: number | null = null,
  ) {
    setWasmThreads(threads);
    return timeBackend(new ModelFiles(tower.source), tower.path, backend, await probeBackends(), imageSize, limits);
  },
};

export type BackendTrialApi = typeof api;

Comlink.expose(api);
