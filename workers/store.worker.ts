/**
 * The embedding cache worker: reads and writes IndexedDB (bulk reads, one transaction per batch of
 * writes), so none of that work sits on the main thread. A storage failure (quota, private mode) never fails a run: writes
 * report `{ stored: false, message }` and the caller continues with what it holds in memory.
 */
import * as Comlink from 'comlink';
import {
  EmbeddingStore,
  StorageFullError,
  type ModelRecord,
  type ModelUsage,
  type RunRecord,
} from '../src/storage/embedding-store';

export interface WriteResult {
  stored: boolean;
  /** Why nothing was stored (quota, storage unavailable); shown to the user. */
  message?: string;
}

let store: Promise<EmbeddingStore> | null = null;

async function open(): Promise<EmbeddingStore> {
  store ??= EmbeddingStore.open().catch((e: unknown) => {
    store = null;
    throw e;
  });
  const s = await store;
  if (!s.closed) return s;
  // Another tab upgraded the schema and this connection stepped aside: reopen instead of failing.
  store = null;
  return open();
}

/** The store, or null when IndexedDB cannot be opened here (lookups then find nothing). */
async function tryOpen(): Promise<EmbeddingStore | null> {
  try {
    return await open();
  } catch {
    return null;
  }
}

async function guardWrite(body: (s: EmbeddingStore) => Promise<void>): Promise<WriteResult> {
  let s: EmbeddingStore;
  try {
    s = await open();
  } catch (e) {
    return {
      stored: false,
      message: `IndexedDB is not available here (${e instanceof Error ? e.message : String(e)}).`,
    };
  }
  try {
    await body(s);
    return { stored: true };
  } catch (e) {
    if (e instanceof StorageFullError) return { stored: false, message: e.message };
    return { stored: false, message: `Storing embeddings failed (${e instanceof Error ? e.message : String(e)}).` };
  }
}

const api = {
  /** Cached embeddings of these image hashes under `model` (a vision key), packed n×dim. */
  async readImages(
    model: string,
    dim: number,
    hashes: string[],
  ): Promise<{ found: Uint8Array; embeddings: Float32Array; readMs: number }> {
    const t0 = performance.now();
    const s = await tryOpen();
    const got = s
      ? await s.getImages(model, hashes, dim)
      : { found: new Uint8Array(hashes.length), embeddings: new Float32Array(hashes.length * dim) };
    return Comlink.transfer({ ...got, readMs: performance.now() - t0 }, [got.embeddings.buffer]);
  },

  async lookupTexts(
    model: string,
    dim: number,
    texts: string[],
  ): Promise<{ found: Uint8Array; embeddings: Float32Array }> {
    const s = await tryOpen();
    const got = s
      ? await s.getTexts(model, texts, dim)
      : { found: new Uint8Array(texts.length), embeddings: new Float32Array(texts.length * dim) };
    return Comlink.transfer(got, [got.embeddings.buffer]);
  },

  storeImages(
    model: string,
    hashes: string[],
    embeddings: Float32Array,
    dim: number,
    run?: { id: string; storedImages: number },
  ): Promise<WriteResult> {
    return guardWrite((s) => s.putImages(model, hashes, embeddings, dim, run));
  },

  storeTexts(model: string, texts: string[], embeddings: Float32Array, dim: number): Promise<WriteResult> {
    return guardWrite((s) => s.putTexts(model, texts, embeddings, dim));
  },

  touchModel(rec: Omit<ModelRecord, 'lastUsed'>): Promise<WriteResult> {
    return guardWrite((s) => s.touchModel(rec));
  },

  touchDataset(model: string, name: string, images: number): Promise<WriteResult> {
    return guardWrite((s) => s.touchDataset(model, name, images));
  },

  beginRun(rec: RunRecord): Promise<WriteResult> {
    return guardWrite((s) => s.beginRun(rec));
  },

  async endRun(id: string): Promise<void> {
    await (await tryOpen())?.endRun(id);
  },

  async openRuns(): Promise<RunRecord[]> {
    return (await (await tryOpen())?.openRuns()) ?? [];
  },

  async usage(): Promise<ModelUsage[]> {
    return (await (await tryOpen())?.usage()) ?? [];
  },

  async countImages(model: string): Promise<number> {
    return (await (await tryOpen())?.countImages(model)) ?? 0;
  },

  async clearModel(fingerprint: string): Promise<void> {
    await (await open()).clearModel(fingerprint);
  },

  async clearAll(): Promise<void> {
    await (await open()).clearAll();
  },
};

export type StoreWorkerApi = typeof api;

Comlink.expose(api);
