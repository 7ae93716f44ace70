/**
 * Embeddings of a classification run: held in memory per tower key, read from and written to the
 * IndexedDB cache (through the cache worker), keyed by content hash / exact prompt. Turned off, it
 * keeps only the memory copy: nothing is read from or written to IndexedDB (the bench's cold runs).
 */
import * as Comlink from 'comlink';
import type { RunRecord, StoreWorkerApi, WriteResult } from '../../workers/clip-api';
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

  private vision = '';
  private text = '';
  private label = '';
  private images = new Map<string, Float32Array>();
  private texts = new Map<string, Float32Array>();
  /** Writes of the current run, awaited by `finish`. */
  private writes: Promise<void>[] = [];
  /** The run record `beginRun` stored, until `endRun`. */
  private runId: string | null = null;

  constructor(private store: Comlink.Remote<StoreWorkerApi>) {}

  /** Start a run under these tower keys; memory held for other keys is dropped. */
  begin(vision: string, text: string, label: string, dim: number): void {
    if (this.vision !== vision || this.images.size > MEMO_MAX_IMAGES) this.images = new Map();
    if (this.text !== text) this.texts = new Map();
    this.vision = vision;
    this.text = text;
    this.label = label;
    this.warning = null;
    this.writes = [];
    this.write(() => this.store.touchModel({ fingerprint: vision, tower: 'vision', label, dim }));
    this.write(() => this.store.touchModel({ fingerprint: text, tower: 'text', label, dim }));
  }

  /** Issue 16: hold rows in memory only (imported embeddings; never written to IndexedDB). */
  holdImages(keys: string[], rows: Float32Array[]): void {
    keys.forEach((k, i) => this.images.set(k, rows[i]!));
  }

  image(hash: string): Float32Array | undefined {
    return this.images.get(hash);
  }

  /**
   * Content hashes of the images (waiting for the intake's hashing) and the cached embeddings of
   * those not in memory, read in one bulk transaction in the cache worker.
   */
  async lookupImages(blobs: Blob[], dim: number): Promise<ImageLookup> {
    const t0 = performance.now();
    const { hashes, unreadable } = await this.contents.hashesOf(blobs);
    const hashMs = performance.now() - t0;
    const missing = [...new Set(hashes.filter((h): h is string => h !== null && !this.images.has(h)))];
    if (!this.enabled || missing.length === 0) return { hashes, unreadable, hashMs, readMs: 0 };
    const got = await this.store.readImages(this.vision, dim, missing);
    missing.forEach((h, k) => got.found[k] && this.images.set(h, got.embeddings.slice(k * dim, (k + 1) * dim)));
    return { hashes, unreadable, hashMs, readMs: got.readMs };
  }

  /**
   * Keep new image embeddings (rows of `packed`, in `hashes` order) and write them in one batch;
   * `storedImages` updates the open run's record (see `beginRun`) in the same transaction.
   */
  putImages(hashes: string[], packed: Float32Array, dim: number, storedImages?: number, vision = this.vision): void {
    hashes.forEach((h, k) => this.images.set(h, packed.slice(k * dim, (k + 1) * dim)));
    const run = this.runId !== null && storedImages !== undefined ? { id: this.runId, storedImages } : undefined;
    if (vision !== this.vision) {
      // Made by another backend than the run started on (GPU lost mid-run): cached under that backend.
      this.write(() => this.store.touchModel({ fingerprint: vision, tower: 'vision', label: this.label, dim }));
    }
    this.write(() => this.store.storeImages(vision, hashes, Comlink.transfer(packed, [packed.buffer]), dim, run));
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
