/**
 * What every run (classification or retrieval) records and keys its cache by: the model, backend and
 * preprocessing, and the analysis worker that does its math off the main thread.
 */
import * as Comlink from 'comlink';
import type { RunManifest } from '../core/results';
import type { AnalysisWorkerApi, StoreWorkerApi } from '../../workers/clip-api';
import type { EngineState } from './engine.svelte';

declare const __APP_VERSION__: string;

/**
 * Cache keys of the loaded model's towers: the tower fingerprints, plus the backend (WebGPU and WASM
 * agree to about 1e-3, not exactly, and a run must be reproducible on the backend it reports) and,
 * for images, the resize mode.
 */
export function towerKeys(engine: EngineState): { vision: string; text: string } {
  const info = engine.info!;
  return {
    vision: `${info.fingerprints.vision}:${info.backend}${engine.resizeMode === 'pil' ? '' : ':browser-resize'}`,
    text: `${info.fingerprints.text}:${info.backend}`,
  };
}

/** What the run was: app, model (with file hashes), backend and preprocessing. */
export async function modelManifest(engine: EngineState): Promise<Omit<RunManifest, 'templates'>> {
  const info = engine.info!;
  const scoring = engine.scoring!;
  return {
    app_version: __APP_VERSION__,
    date: new Date().toISOString(),
    model: {
      id: info.id,
      origin: info.origin,
      files: await engine.fileHashes(),
      logit_scale: scoring.scale,
      logit_scale_source: scoring.scaleSource,
      embedding_dim: info.embeddingDim,
      family: info.family,
      scoring: {
        kind: scoring.kind,
        scale: scoring.scale,
        scale_source: scoring.scaleSource,
        bias: scoring.bias,
        bias_source: scoring.biasSource,
        citation: scoring.citation,
      },
    },
    backend: info.backend,
    dtype: info.dtype,
    preprocessing: { resize: engine.resizeMode === 'pil' ? 'pil-bicubic-exact' : 'browser', ...info.preprocess },
  };
}

/**
 * A scoring/metrics worker (created on first use by the caller), reading image embeddings straight
 * from the cache worker `store` over a port of its own.
 */
export function createAnalysisWorker(store: Comlink.Remote<StoreWorkerApi>): Comlink.Remote<AnalysisWorkerApi> {
  // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
  const worker = new Worker(new URL('../../workers/analysis.worker.ts', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<AnalysisWorkerApi>(worker);
  const { port1, port2 } = new MessageChannel();
  // Both calls are queued in order on their endpoints, so no request reaches either side before its port.
  void store.serveRows(Comlink.transfer(port1, [port1]));
  void api.useRows(Comlink.transfer(port2, [port2]));
  return api;
}
