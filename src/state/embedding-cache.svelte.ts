/**
 * Embeddings of a run, keyed by content hash / exact prompt, read from and written to the IndexedDB
 * cache through the cache worker. They stay in that worker (one flat N×dim buffer per cache and tower,
 * see workers/row-memo.ts): the model worker's batches go there directly and the analysis worker
 * reads a run's matrices from there, so this side only knows which rows are held. Turned off, nothing
 * is read from or written to IndexedDB (the bench's cold runs); the memory copy is kept either way.
 */
import * as Comlink from 'comlink';
import type { RunRecord, RunRows, RowsRef, StoreWorkerApi, WriteResult } from '../../workers/clip-api';
import { ContentIndex } from './content-index.svelte';
import { nextTask } from '../core/next-task';

/** Rows kept in memory across runs, per tower; beyond this the memory copy starts afresh (IndexedDB keeps all). */
const MEMO_MAX_ROWS = 200_000;

let nextStream = 1;

/** An id for a stream of rows from the model worker to the cache worker, unique in the page. */
export function nextStreamId(): number {
  return nextStream++;
}

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
  /** This cache's memos (image rows, text rows) in the cache worker. */
  readonly memo = crypto.randomUUID();
  readonly textMemo = `${this.memo}:text`;

  private vision = '';
  private text = '';
  private label = '';
  private dim = 0;
  /** Hashes whose image embedding the cache worker holds in this cache's memo (under `vision`). */
  private held = new Set<string>();
  /** Texts whose embedding the cache worker holds in `textMemo` (under `text`). */
  private heldTexts = new Set<string>();
  /** Writes of the current run, awaited by `finish`. */
  private writes: Promise<void>[] = [];
  /** The run record `beginRun` stored, until `endRun`. */
  private runId: string | null = null;

  constructor(readonly store: Comlink.Remote<StoreWorkerApi>) {}

  /** Start a run under these tower keys; memory held for other keys is dropped. */
  begin(vision: string, text: string, label: string, dim: number): void {
    // Calls on one Comlink endpoint are handled in order, so later reads and runs find the new memo.
    if (this.vision !== vision || this.dim !== dim || this.held.size > MEMO_MAX_ROWS) {
      this.held = new Set();
      void this.store.resetMemo(this.memo, vision, dim);
    }
    if (this.text !== text || this.dim !== dim || this.heldTexts.size > MEMO_MAX_ROWS) {
      this.heldTexts = new Set();
      void this.store.resetMemo(this.textMemo, text, dim);
    }
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
    if (!this.enabled) return { hashes, unreadable, hashMs, readMs: 0 };
    // Tasks of their own: for 50,000 images the hashes above and the set below took 60 ms in one, and the
    // set alone 23 ms in one task (a CPU profile of the bench's run): 10,000 images per task.
    const missing = new Set<string>();
    for (let i = 0; i < hashes.length; i++) {
      if (i % 10_000 === 0) await nextTask();
      const h = hashes[i];
      if (h && !this.held.has(h)) missing.add(h);
    }
    if (missing.size === 0) return { hashes, unreadable, hashMs, readMs: 0 };
    const wanted = [...missing];
    const got = await this.store.readRows(this.memo, 'vision', this.vision, dim, wanted);
    wanted.forEach((h, k) => got.found[k] && this.held.add(h));
    return { hashes, unreadable, hashMs, readMs: got.readMs };
  }

  /**
   * Announce streamed run `run` to the cache worker, whose images are `hashes` by seq: its batches
   * reach the worker from the model worker, written under the backend that made them (`runBackend`
   * until a GPU loss); `storedImages` counts the run's images stored before this stream.
   */
  openRun(run: number, hashes: string[], runBackend: string, storedImages: number): Promise<void> {
    const rows: RunRows = {
      tower: 'vision',
      memo: this.memo,
      hashes,
      towerKey: this.vision,
      runBackend,
      label: this.label,
      dim: this.dim,
      write: this.enabled,
      record: this.runId !== null ? { id: this.runId, storedImages } : null,
    };
    return this.store.openRun(run, rows);
  }

  /**
   * Wait until the cache worker has the `rows` rows of image run `run` reported so far, and their
   * writes; the rows it holds are then known here as held (and only those). `hashes`: the run's keys by
   * seq, as given to `openRun` (the worker answers with seqs). Returns how many it holds.
   */
  async settleRun(run: number, rows: number, hashes: string[]): Promise<number> {
    const r = await this.store.settleRun(run, rows);
    // 10,000 keys per task: a 50,000-image run's took 15 ms of the task that ended the run.
    const held = this.held;
    for (let i = 0; i < r.held.length; i++) {
      if (i % 10_000 === 9_999) await nextTask();
      held.add(hashes[r.held[i]!]!);
    }
    await this.note(Promise.resolve(r.write));
    return r.held.length;
  }

  /**
   * Rows of `prompts` (one per prompt, in order; the cache worker holds them): from memory, then
   * IndexedDB, then `encode` for the rest (each distinct prompt once), whose rows the model worker
   * sends to the cache worker as stream `run`, which holds and writes them.
   */
  async prompts(
    prompts: string[],
    runBackend: string,
    encode: (todo: string[], run: number) => Promise<void>,
  ): Promise<{ rows: RowsRef; hits: number; misses: number }> {
    const unique = [...new Set(prompts)];
    let todo = unique.filter((p) => !this.heldTexts.has(p));
    if (this.enabled && todo.length > 0) {
      const got = await this.store.readRows(this.textMemo, 'text', this.text, this.dim, todo);
      todo.forEach((p, i) => got.found[i] && this.heldTexts.add(p));
      todo = todo.filter((p) => !this.heldTexts.has(p));
    }
    if (todo.length > 0) {
      const run = nextStreamId();
      await this.store.openRun(run, {
        tower: 'text',
        memo: this.textMemo,
        hashes: todo,
        towerKey: this.text,
        runBackend,
        label: this.label,
        dim: this.dim,
        write: this.enabled,
        record: null,
      });
      let sent = 0;
      try {
        await encode(todo, run);
        sent = todo.length;
        // The rows travel on the model worker's port: wait until they are held before anyone reads them.
        await this.store.runArrived(run, sent);
      } finally {
        // Writes finish in the background (awaited by `finish`); a cancelled stream settles with what arrived.
        this.writes.push(this.note(this.store.settleRun(run, sent).then((r) => r.write)).then(() => undefined));
      }
      todo.forEach((p) => this.heldTexts.add(p));
    }
    return { rows: { memo: this.textMemo, keys: prompts }, hits: unique.length - todo.length, misses: todo.length };
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
