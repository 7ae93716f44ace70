/**
 * Embeddings of a run, keyed by content hash / exact prompt, read from and written to the IndexedDB
 * cache through the cache worker. Image embeddings stay in that worker (one flat N×dim buffer per
 * cache, see workers/image-memo.ts): the model worker's batches go there directly and the analysis
 * worker reads a run's matrix from there, so this side only knows which hashes are held. Prompt
 * embeddings (small) are kept here. Turned off, nothing is read from or written to IndexedDB (the
 * bench's cold runs); the memory copy is kept either way.
 */
import * as Comlink from 'comlink';
import type { RunRecord, RunRows, RowsRef, StoreWorkerApi, WriteResult } from '../../workers/clip-api';
import { ContentIndex } from './content-index.svelte';

/** Image embeddings kept in memory across runs; beyond this the memory copy starts afresh (IndexedDB keeps all). */
const MEMO_MAX_IMAGES = 200_000;

export interface ImageLookup {
  /** Content hash per image; null where the file could not be read. */
  hashes: (string | null)[];
  unreadable: Map<number, string>;
  hashMs: number;
  readMs: number;
}

export class EmbeddingCache {
  /** Read and write IndexedDB. The bench's `--no-cache` turns it off for a cold run. */
  enabled = $state(true);
  /** Set when IndexedDB refused writes (quota): the run continues in memory. */
  warning = $state<string | null>(null);
  /** Content hashes of the picked files, begun at intake. */
  readonly contents = new ContentIndex();
  /** This cache's memo in the cache worker. */
  readonly memo = crypto.randomUUID();

  private vision = '';
  private text = '';
  private label = '';
  private dim = 0;
  /** Hashes whose image embedding the cache worker holds in this cache's memo (under `vision`). */
  private held = new Set<string>();
  private texts = new Map<string, Float32Array>();
  /** Writes of the current run, awaited by `finish`. */
  private writes: Promise<void>[] = [];
  /** The run record `beginRun` stored, until `endRun`. */
  private runId: string | null = null;

  constructor(readonly store: Comlink.Remote<StoreWorkerApi>) {}

  /** Start a run under these tower keys; memory held for other keys is dropped. */
  begin(vision: string, text: string, label: string, dim: number): void {
    if (this.vision !== vision || this.dim !== dim || this.held.size > MEMO_MAX_IMAGES) {
      this.held = new Set();
      // Calls on one Comlink endpoint are handled in order, so later reads and runs find the new memo.
      void this.store.resetMemo(this.memo, vision, dim);
    }
    if (this.text !== text) this.texts = new Map();
    this.vision = vision;
    this.text = text;
    this.label = label;
    this.dim = dim;
    this.warning = null;
    this.writes = [];
    this.write(() => this.store.touchModel({ fingerprint: vision, tower: 'vision', label, dim }));
    this.write(() => this.store.touchModel({ fingerprint: text, tower: 'text', label, dim }));
  }

  /** Issue 16: hold rows in memory only (imported embeddings; never written to IndexedDB). */
  async holdImages(keys: string[], rows: Float32Array[]): Promise<void> {
    const packed = new Float32Array(keys.length * this.dim);
    rows.forEach((r, i) => packed.set(r, i * this.dim));
    await this.store.holdRows(this.memo, keys, Comlink.transfer(packed, [packed.buffer]));
    keys.forEach((k) => this.held.add(k));
  }

  /** Whether the image embedding of `hash` is held (for the current vision key). */
  has(hash: string): boolean {
    return this.held.has(hash);
  }

  /** Where the analysis worker reads the rows of these hashes (see `createAnalysisWorker`). */
  rows(hashes: string[]): RowsRef {
    return { memo: this.memo, keys: hashes };
  }

  /** The rows of these hashes, packed n×dim (for tests and exports; runs read them in the analysis worker). */
  gather(hashes: string[]): Promise<Float32Array> {
    return this.store.gather(this.rows(hashes));
  }

  /**
   * Content hashes of the images (waiting for the intake's hashing), with the cached embeddings of
   * those not held yet read into the cache worker's memory in one bulk transaction.
   */
  async lookupImages(blobs: Blob[], dim: number): Promise<ImageLookup> {
    const t0 = performance.now();
    const { hashes, unreadable } = await this.contents.hashesOf(blobs);
    const hashMs = performance.now() - t0;
    const missing = [...new Set(hashes.filter((h): h is string => h !== null && !this.held.has(h)))];
    if (!this.enabled || missing.length === 0) return { hashes, unreadable, hashMs, readMs: 0 };
    const got = await this.store.readImages(this.memo, this.vision, dim, missing);
    missing.forEach((h, k) => got.found[k] && this.held.add(h));
    return { hashes, unreadable, hashMs, readMs: got.readMs };
  }

  /**
   * Announce streamed run `run` to the cache worker, whose images are `hashes` by seq: its batches
   * reach the worker from the model worker, written under the backend that made them (`runBackend`
   * until a GPU loss); `storedImages` counts the run's images stored before this stream.
   */
  openRun(run: number, hashes: string[], runBackend: string, storedImages: number): Promise<void> {
    const rows: RunRows = {
      memo: this.memo,
      hashes,
      visionKey: this.vision,
      runBackend,
      label: this.label,
      dim: this.dim,
      write: this.enabled,
      record: this.runId !== null ? { id: this.runId, storedImages } : null,
    };
    return this.store.openRun(run, rows);
  }

  /** Rows the model worker reported embedded: the cache worker holds (or is about to hold) them. */
  noteHeld(hashes: string[]): void {
    hashes.forEach((h) => this.held.add(h));
  }

  /** Wait until the cache worker has the `rows` rows of run `run` reported so far, and their writes. */
  async settleRun(run: number, rows: number): Promise<void> {
    await this.note(this.store.settleRun(run, rows));
  }

  /** The vision key of the current run. */
  get visionKey(): string {
    return this.vision;
  }

  /**
   * Prompt embeddings (prompts.length × dim) from memory, then IndexedDB, then `encode` for the rest
   * (each distinct prompt once), which are kept and written.
   */
  async prompts(
    prompts: string[],
    dim: number,
    encode: (todo: string[]) => Promise<Float32Array>,
  ): Promise<{ embeddings: Float32Array; hits: number; misses: number }> {
    const unique = [...new Set(prompts)];
    let todo = unique.filter((p) => !this.texts.has(p));
    if (this.enabled && todo.length > 0) {
      const got = await this.store.lookupTexts(this.text, dim, todo);
      todo.forEach((p, i) => got.found[i] && this.texts.set(p, got.embeddings.slice(i * dim, (i + 1) * dim)));
      todo = todo.filter((p) => !this.texts.has(p));
    }
    if (todo.length > 0) {
      const emb = await encode(todo);
      todo.forEach((p, i) => this.texts.set(p, emb.slice(i * dim, (i + 1) * dim)));
      this.write(() => this.store.storeTexts(this.text, todo, Comlink.transfer(emb, [emb.buffer]), dim));
    }
    const embeddings = new Float32Array(prompts.length * dim);
    prompts.forEach((p, i) => embeddings.set(this.texts.get(p)!, i * dim));
    return { embeddings, hits: unique.length - todo.length, misses: todo.length };
  }

  /** Record a run in progress, so a reload can offer to resume it; false when it could not be stored. */
  async beginRun(rec: RunRecord): Promise<boolean> {
    const ok = this.enabled && (await this.note(this.store.beginRun(rec)));
    if (ok) this.runId = rec.id;
    return ok;
  }

  /** The run finished, failed or was cancelled: it is no longer one to resume after a reload. */
  async endRun(): Promise<void> {
    const id = this.runId;
    this.runId = null;
    if (id !== null) await this.store.endRun(id).catch(() => undefined);
  }

  /** Wait for the run's writes; record the dataset's use and close runs of it that a reload interrupted. */
  async finish(dataset: string, distinctImages: number): Promise<void> {
    await Promise.all(this.writes);
    if (!this.enabled) return;
    await this.note(this.store.touchDataset(this.vision, dataset, distinctImages));
    for (const r of await this.store.openRuns()) {
      if (r.dataset === dataset && r.visionModel === this.vision) await this.store.endRun(r.id);
    }
  }

  /** Issue a write (only when enabled); the run awaits it in `finish`. */
  private write(issue: () => Promise<WriteResult>): void {
    if (this.enabled) this.writes.push(this.note(issue()).then(() => undefined));
  }

  /** A refused write (quota) turns into the visible in-memory warning. */
  private async note(p: Promise<WriteResult>): Promise<boolean> {
    const r = await p;
    if (!r.stored && this.warning === null) {
      this.warning =
        `${r.message ?? 'Embeddings could not be stored.'} The run continues in memory and its results are ` +
        'complete, but new embeddings will not be cached for next time. Free space in the Storage tab.';
    }
    return r.stored;
  }
}
