/** Exposes the real model worker to Playwright as `window.harness` (test-only page). */
import * as Comlink from 'comlink';
import type { ClipWorkerApi } from '../../workers/clip-api';

const worker = new Worker(new URL('../../workers/clip.worker.ts', import.meta.url), { type: 'module' });
const api = Comlink.wrap<ClipWorkerApi>(worker);

declare global {
  interface Window {
    harness: {
      api: typeof api;
      proxy: typeof Comlink.proxy;
      fetchBlob: (url: string) => Promise<Blob>;
      ready: true;
    };
  }
}

window.harness = {
  api,
  proxy: Comlink.proxy,
  fetchBlob: async (url) => (await fetch(url)).blob(),
  ready: true,
};
