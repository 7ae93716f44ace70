/**
 * Embeddings in IndexedDB, keyed by content: an image embedding by (vision fingerprint, hash of the
 * image bytes), a text embedding by (text fingerprint, exact prompt). Reads and writes are bulk
 * operations in one transaction each.
 *
 * Schema history (every version stays readable; `upgrade` walks from the stored version up):
 * - v1: `images` [model, hash] → embedding, `texts` [model, text] → embedding.
 * - v2: adds `models` (what a fingerprint is, for the storage panel), `datasets` (which folders used a
 *   model) and `runs` (runs in progress, so an interrupted one can be resumed). v1 data is kept and its
 *   fingerprints get model records.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';

export const DB_NAME = 'zsw-embeddings';
export const DB_VERSION = 2;

export type Tower = 'vision' | 'text';

/** Bulk reads use getAll when at least BULK_MIN keys are wanted and the model holds at most BULK_RATIO× as many. */
const BULK_MIN = 256;
const BULK_RATIO = 3;

export interface ImageRecord {
  model: string;
  hash: string;
  emb: Float32Array;
}

export interface TextRecord {
  model: string;
  text: string;
  emb: Float32Array;
}

export interface ModelRecord {
  fingerprint: string;
  tower: Tower;
  /** The model's id as the user knows it (Hub id, folder name). */
  label: string;
  dim: number;
  lastUsed: number;
}

export interface DatasetRecord {
  model: string;
  name: string;
  /** Distinct images of the dataset with an embedding under this model. */
  images: number;
  lastUsed: number;
}

export interface RunRecord {
  id: string;
  dataset: string;
  modelLabel: string;
  visionModel: string;
  totalImages: number;
  /** Images whose embeddings are stored (cached before the run, or encoded by it). */
  storedImages: number;
  startedAt: number;
  updatedAt: number;
}

export interface ModelUsage extends ModelRecord {
  count: number;
  /** Embedding payload (count × dim × 4) plus keys, an estimate of what the records take. */
  bytes: number;
  datasets: DatasetRecord[];
}

interface Schema extends DBSchema {
  images: { key: [string, string]; value: ImageRecord };
  texts: { key: [string, string]; value: TextRecord };
  models: { key: string; value: ModelRecord };
  datasets: { key: [string, string]; value: DatasetRecord; indexes: { 'by-model': string } };
  runs: { key: string; value: RunRecord };
}

type Db = IDBPDatabase<Schema>;
type UpgradeTx = IDBPTransaction<Schema, StoreNames<Schema>[], 'versionchange'>;

/** Thrown when the browser refuses to store more (quota exceeded); the caller continues in memory. */
export class StorageFullError extends Error {
  override name = 'StorageFullError';
}

function isQuotaError(e: unknown): boolean {
  return e instanceof DOMException && (e.name === 'QuotaExceededError' || e.name === 'UnknownError');
}

/**
 * A request's promise, marked as handled: when a batch fails part-way, the requests already made
 * reject with AbortError after the caller has moved on, and that must not surface as unhandled.
 */
function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** All keys [model, *] of a compound-key store. Arrays sort after strings, so [model, []] bounds them. */
function modelRange(model: string): IDBKeyRange {
  return IDBKeyRange.bound([model], [model, []]);
}

/** Distinct first key parts of a [model, …] store, skipping from one model to the next. */
async function distinctModels(tx: UpgradeTx, store: 'images' | 'texts'): Promise<Map<string, number>> {
  const out = new Map<string, number>(); // fingerprint → dim
  let cursor = await tx.objectStore(store).openCursor();
  while (cursor) {
    const model = cursor.value.model;
    out.set(model, cursor.value.emb.length);
    cursor = await cursor.continue([model, []] as unknown as [string, string]);
  }
  return out;
}

async function upgrade(db: Db, oldVersion: number, tx: UpgradeTx): Promise<void> {
  if (oldVersion < 1) {
    db.createObjectStore('images', { keyPath: ['model', 'hash'] });
    db.createObjectStore('texts', { keyPath: ['model', 'text'] });
  }
  if (oldVersion < 2) {
    db.createObjectStore('models', { keyPath: 'fingerprint' });
    db.createObjectStore('datasets', { keyPath: ['model', 'name'] }).createIndex('by-model', 'model');
    db.createObjectStore('runs', { keyPath: 'id' });
    if (oldVersion >= 1) {
      const now = Date.now();
      for (const tower of ['vision', 'text'] as const) {
        const found = await distinctModels(tx, tower === 'vision' ? 'images' : 'texts');
        for (const [fingerprint, dim] of found) {
          await tx.objectStore('models').put({
            fingerprint,
            tower,
            label: 'a model cached by an earlier version',
            dim,
            lastUsed: now,
          });
        }
      }
    }
  }
}

export class EmbeddingStore {
  /** Set once the connection is closed (another tab upgraded the schema, or the browser closed it). */
  closed = false;

  private constructor(private db: Db) {}

  static async open(name = DB_NAME): Promise<EmbeddingStore> {
    let db: Db | null = null;
    let store: EmbeddingStore | null = null;
    const events = {
      // Another tab wants to upgrade the schema: step aside; the owner reopens on next use.
      blocking: () => {
        db?.close();
        if (store) store.closed = true;
      },
      terminated: () => {
        if (store) store.closed = true;
      },
    };
    try {
      db = await openDB<Schema>(name, DB_VERSION, {
        // idb waits for the version-change transaction, so the migration's requests all complete.
        upgrade: (database, oldVersion, _newVersion, tx) => void upgrade(database, oldVersion, tx),
        ...events,
      });
    } catch (e) {
      // A newer version of the app (another tab) upgraded the database past ours. Versions only add
      // stores (see the history above), so open it at its own version instead of failing.
      if (!(e instanceof DOMException && e.name === 'VersionError')) throw e;
      db = await openDB<Schema>(name, undefined, events);
    }
    store = new EmbeddingStore(db);
    return store;
  }

  close(): void {
    this.db.close();
  }

  /**
   * Embeddings of these images, packed n×dim (zero rows where `found[i]` is 0). One transaction with
   * all gets in flight at once; duplicate hashes are read once.
   */
  async getImages(model: string, hashes: readonly string[], dim: number) {
    return this.getMany('images', model, hashes, dim);
  }

  async getTexts(model: string, texts: readonly string[], dim: number) {
    return this.getMany('texts', model, texts, dim);
  }

  private async getMany(
    store: 'images' | 'texts',
    model: string,
    keys: readonly string[],
    dim: number,
  ): Promise<{ found: Uint8Array; embeddings: Float32Array }> {
    const found = new Uint8Array(keys.length);
    const embeddings = new Float32Array(keys.length * dim);
    const tx = this.db.transaction(store, 'readonly');
    const os = tx.objectStore(store);
    const unique = [...new Set(keys)];
    const byKey = new Map<string, Float32Array>();
    const keep = (k: string, v: ImageRecord | TextRecord | undefined) => {
      if (v && v.emb.length === dim) byKey.set(k, v.emb);
    };
    // Most of this model's records wanted (a re-run of a dataset): one getAll over the model's key
    // range is several times faster than a get per key. Otherwise, all gets in flight at once.
    const stored = unique.length >= BULK_MIN ? await os.count(modelRange(model)) : Infinity;
    if (stored <= BULK_RATIO * unique.length) {
      const wanted = new Set(unique);
      for (const v of await os.getAll(modelRange(model))) {
        const k = 'hash' in v ? v.hash : v.text;
        if (wanted.has(k)) keep(k, v);
      }
    } else {
      const values = await Promise.all(unique.map((k) => os.get([model, k])));
      unique.forEach((k, i) => keep(k, values[i]));
    }
    await tx.done;
    keys.forEach((k, i) => {
      const e = byKey.get(k);
      if (e) {
        found[i] = 1;
        embeddings.set(e, i * dim);
      }
    });
    return { found, embeddings };
  }

  /** Store rows of `embeddings` (n×dim) under their hashes, in one transaction. */
  async putImages(
    model: string,
    hashes: readonly string[],
    embeddings: Float32Array,
    dim: number,
    run?: { id: string; storedImages: number },
  ): Promise<void> {
    await this.write(['images', 'runs'], async (tx) => {
      const os = tx.objectStore('images');
      const puts: Promise<unknown>[] = hashes.map((hash, i) =>
        settled(os.put({ model, hash, emb: embeddings.slice(i * dim, (i + 1) * dim) })),
      );
      if (run) {
        const runs = tx.objectStore('runs');
        const rec = await runs.get(run.id);
        if (rec) puts.push(runs.put({ ...rec, storedImages: run.storedImages, updatedAt: Date.now() }));
      }
      await Promise.all(puts);
    });
  }

  async putTexts(model: string, texts: readonly string[], embeddings: Float32Array, dim: number): Promise<void> {
    await this.write(['texts'], async (tx) => {
      const os = tx.objectStore('texts');
      await Promise.all(
        texts.map((text, i) => settled(os.put({ model, text, emb: embeddings.slice(i * dim, (i + 1) * dim) }))),
      );
    });
  }

  /** Run a write transaction; a full disk or quota becomes StorageFullError. */
  private async write<S extends StoreNames<Schema>>(
    stores: S[],
    body: (tx: IDBPTransaction<Schema, S[], 'readwrite'>) => Promise<void>,
  ): Promise<void> {
    const tx = this.db.transaction(stores, 'readwrite');
    try {
      await Promise.all([body(tx), tx.done]);
    } catch (e) {
      // A batch is all or nothing: undo what the transaction did before the failure.
      try {
        tx.abort();
      } catch {
        // already aborted by the browser (the usual way a quota error arrives)
      }
      tx.done.catch(() => undefined);
      const err = tx.error ?? e;
      if (isQuotaError(err) || isQuotaError(e)) {
        throw new StorageFullError(
          `The browser refused to store more embeddings (${(err as DOMException).message || (err as DOMException).name}).`,
        );
      }
      throw e;
    }
  }

  /** Record (or refresh) what a fingerprint is, for the storage panel. */
  async touchModel(rec: Omit<ModelRecord, 'lastUsed'>): Promise<void> {
    await this.write(['models'], async (tx) => {
      await tx.objectStore('models').put({ ...rec, lastUsed: Date.now() });
    });
  }

  async touchDataset(model: string, name: string, images: number): Promise<void> {
    await this.write(['datasets'], async (tx) => {
      await tx.objectStore('datasets').put({ model, name, images, lastUsed: Date.now() });
    });
  }

  /** Every model with its record count, estimated bytes and datasets, most recently used first. */
  async usage(): Promise<ModelUsage[]> {
    const tx = this.db.transaction(['models', 'images', 'texts', 'datasets'], 'readonly');
    const models = await tx.objectStore('models').getAll();
    const out: ModelUsage[] = [];
    for (const m of models) {
      const store = m.tower === 'vision' ? 'images' : 'texts';
      const count = await tx.objectStore(store).count(modelRange(m.fingerprint));
      const datasets = await tx.objectStore('datasets').index('by-model').getAll(m.fingerprint);
      const keyBytes = m.tower === 'vision' ? 2 * 32 + 32 : 2 * 32 + 64;
      out.push({ ...m, count, bytes: count * (m.dim * 4 + keyBytes), datasets });
    }
    await tx.done;
    return out.sort((a, b) => b.lastUsed - a.lastUsed);
  }

  async countImages(model: string): Promise<number> {
    return this.db.count('images', modelRange(model));
  }

  /** Delete every embedding of one fingerprint, its datasets and its record. */
  async clearModel(fingerprint: string): Promise<void> {
    const tx = this.db.transaction(['models', 'images', 'texts', 'datasets'], 'readwrite');
    await Promise.all([
      tx.objectStore('images').delete(modelRange(fingerprint)),
      tx.objectStore('texts').delete(modelRange(fingerprint)),
      tx.objectStore('datasets').delete(modelRange(fingerprint)),
      tx.objectStore('models').delete(fingerprint),
      tx.done,
    ]);
  }

  async clearAll(): Promise<void> {
    const names = ['images', 'texts', 'models', 'datasets', 'runs'] as const;
    const tx = this.db.transaction([...names], 'readwrite');
    await Promise.all([...names.map((n) => tx.objectStore(n).clear()), tx.done]);
  }

  async beginRun(rec: RunRecord): Promise<void> {
    await this.write(['runs'], async (tx) => {
      await tx.objectStore('runs').put(rec);
    });
  }

  async endRun(id: string): Promise<void> {
    await this.db.delete('runs', id);
  }

  /** Runs that began and never ended: the page was reloaded or closed mid-run. */
  async openRuns(): Promise<RunRecord[]> {
    return this.db.getAll('runs');
  }
}
