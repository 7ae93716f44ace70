/**
 * What the app keeps in this browser: the embedding cache (per model and dataset), the browser's
 * estimate of usage and quota, and whether storage is persistent. Also the one connection to the
 * cache worker, shared with the classification run.
 */
import * as Comlink from 'comlink';
import type { ModelUsage, RunRecord, StoreWorkerApi } from '../../workers/clip-api';
import { describeError } from '../data/errors';
import type { UserError } from './engine.svelte';

export function createStoreWorker(): Comlink.Remote<StoreWorkerApi> {
  // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
  const worker = new Worker(new URL('../../workers/store.worker.ts', import.meta.url), { type: 'module' });
  return Comlink.wrap<StoreWorkerApi>(worker);
}

/** Cache Storage bucket of downloaded model files (see src/data/model-fetch.ts). */
const MODEL_CACHE_PREFIX = 'zsw-model-files';

export class StorageState {
  models = $state.raw<ModelUsage[]>([]);
  /** Runs the page was closed or reloaded during; their embeddings so far are cached. */
  interrupted = $state.raw<RunRecord[]>([]);
  usage = $state<number | null>(null);
  quota = $state<number | null>(null);
  persisted = $state<boolean | null>(null);
  modelFilesBytes = $state<number | null>(null);
  busy = $state(false);
  error = $state<UserError | null>(null);

  constructor(readonly store: Comlink.Remote<StoreWorkerApi>) {}

  async refresh(): Promise<void> {
    try {
      const [models, runs] = await Promise.all([this.store.usage(), this.store.openRuns()]);
      this.models = models;
      this.interrupted = runs;
      if (navigator.storage?.estimate) {
        const e = await navigator.storage.estimate();
        this.usage = e.usage ?? null;
        this.quota = e.quota ?? null;
      }
      this.persisted = navigator.storage?.persisted ? await navigator.storage.persisted() : null;
      this.modelFilesBytes = await modelFilesBytes();
    } catch (e) {
      this.error = describeError(e);
    }
  }

  /** Ask the browser not to evict this site's data under storage pressure. */
  async persist(): Promise<void> {
    if (!navigator.storage?.persist) return;
    this.persisted = await navigator.storage.persist();
  }

  async clearModel(fingerprint: string): Promise<void> {
    await this.guard(() => this.store.clearModel(fingerprint));
  }

  async clearAll(): Promise<void> {
    await this.guard(() => this.store.clearAll());
  }

  async clearModelFiles(): Promise<void> {
    await this.guard(async () => {
      for (const name of await caches.keys()) if (name.startsWith(MODEL_CACHE_PREFIX)) await caches.delete(name);
    });
  }

  async dismissRun(id: string): Promise<void> {
    await this.store.endRun(id);
    this.interrupted = this.interrupted.filter((r) => r.id !== id);
  }

  private async guard(body: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.error = null;
    try {
      await body();
    } catch (e) {
      this.error = describeError(e);
    } finally {
      this.busy = false;
      await this.refresh();
    }
  }
}

/** Bytes of downloaded model files in Cache Storage (sum of Content-Length or body sizes). */
async function modelFilesBytes(): Promise<number | null> {
  if (typeof caches === 'undefined') return null;
  let total = 0;
  for (const name of await caches.keys()) {
    if (!name.startsWith(MODEL_CACHE_PREFIX)) continue;
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const res = await cache.match(req);
      const len = Number(res?.headers.get('content-length') ?? NaN);
      total += Number.isFinite(len) ? len : ((await res?.blob())?.size ?? 0);
    }
  }
  return total;
}
