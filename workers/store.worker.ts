/**
 * The embedding cache worker: reads and writes IndexedDB (bulk reads, one transaction per batch of
 * writes), so none of that work sits on the main thread, and holds the image embeddings of the tabs'
 * runs in memory (workers/row-memo.ts): the model worker's batches come here and the analysis
 * worker's matrices go from here, each over its own MessagePort. A storage failure (quota, private mode) never fails a run: writes
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
import { RowMemo, type RowsMessage, type RowsRef, type RunRows } from './row-memo';

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

const memo = new RowMemo(guardWrite);

/** What the analysis worker may ask over its port. */
const rowsApi = {
  /** The rows of `ref`, packed keys.length×dim in key order (transferred). */
  gather(ref: RowsRef): Float32Array {
    const out = memo.gather(ref);
    return Comlink.transfer(out, [out.buffer]);
  },
};

export type RowsApi = typeof rowsApi;

const api = {
  /** Start memo `id` (one per embedding cache and tower) afresh for the tower key `model`, rows of `dim`. */
  resetMemo(id: string, model: string, dim: number): void {
    memo.reset(id, model, dim);
  },

  /** Hold rows (keys.length×dim, transferred) in memo `id` (imported embeddings: never written). */
  holdRows(id: string, keys: string[], packed: Float32Array): void {
    memo.hold(id, null, keys, packed);
  },

  /**
   * Read the cached embeddings of these keys (image hashes, or texts for `tower` 'text') under `model`
   * (the tower key) into memo `id`; which were found (1) or not (0), in `keys` order.
   */
  async readRows(
    id: string,
    tower: 'vision' | 'text',
    model: string,
    dim: number,
    keys: string[],
  ): Promise<{ found: Uint8Array; readMs: number }> {
    const t0 = performance.now();
    const s = await tryOpen();
    if (!s) return { found: new Uint8Array(keys.length), readMs: performance.now() - t0 };
    const got = tower === 'text' ? await s.getTexts(model, keys, dim) : await s.getImages(model, keys, dim);
    const held: string[] = [];
    const rows = new Float32Array(keys.length * dim);
    keys.forEach((k, i) => {
      if (!got.found[i]) return;
      rows.set(got.embeddings.subarray(i * dim, (i + 1) * dim), held.length * dim);
      held.push(k);
    });
    memo.hold(id, model, held, rows.subarray(0, held.length * dim));
    return { found: got.found, readMs: performance.now() - t0 };
  },

  /** The rows of `ref` (for tests and exports; the analysis worker reads them over its own port). */
  gather(ref: RowsRef): Float32Array {
    return rowsApi.gather(ref);
  },

  /** Take the model worker's batches on `port` (see workers/row-memo.ts). */
  acceptBatches(port: MessagePort): void {
    port.onmessage = (e: MessageEvent<RowsMessage>) => memo.take(e.data);
  },

  /** Answer an analysis worker's requests for rows on `port`. */
  serveRows(port: MessagePort): void {
    Comlink.expose(rowsApi, port);
  },

  /** Expect the batches of streamed run `run` (before its first row is asked for). */
  openRun(run: number, rows: RunRows): void {
    memo.open(run, rows);
  },

  /** Resolves once `rows` rows of run `run` are held (its writes may still be going). */
  runArrived(run: number, rows: number): Promise<void> {
    return memo.arrived(run, rows);
  },

  /** Close run `run` once `rows` rows are here and written: the first refused write, and the seqs held. */
  async settleRun(run: number, rows: number): Promise<{ write: WriteResult; held: Uint32Array }> {
    const r = await memo.settle(run, rows);
    return Comlink.transfer(r, [r.held.buffer]);
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
