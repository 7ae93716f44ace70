/** Exposes the real model worker to Playwright as `window.harness` (test-only page). */
import * as Comlink from 'comlink';
import type { ClipWorkerApi } from '../../workers/clip-api';
import type { BackendTrialApi } from '../../workers/backend-trial.worker';
import '../../src/data/error-transfer';

const worker = new Worker(new URL('../../workers/clip.worker.ts', import.meta.url), { type: 'module' });
const api = Comlink.wrap<ClipWorkerApi>(worker);

declare global {
  interface Window {
    harness: {
      api: typeof api;
      proxy: typeof Comlink.proxy;
      fetchBlob: (url: string) => Promise<Blob>;
      /** A new backend-trial worker (Auto's timing, src/engine/backend-choice.ts), to drive directly. */
      trialWorker: () => Comlink.Remote<BackendTrialApi>;
      ready: true;
    };
  }
}

window.harness = {
  api,
  proxy: Comlink.proxy,
  fetchBlob: async (url) => (await fetch(url)).blob(),
  trialWorker: () =>
    Comlink.wrap<BackendTrialApi>(
      new Worker(new URL('../../workers/backend-trial.worker.ts', import.meta.url), { type: 'module' }),
    ),
  ready: true,
};
