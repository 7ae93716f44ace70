/**
 * The cache worker's side of the run pipeline: embeddings held in memory (one flat N×dim `RowArena`
 * per embedding cache and tower, under that tower's key), fed by IndexedDB reads, imported sets and
 * the batches the model worker sends straight here over a MessagePort; the analysis worker reads a
 * run's matrices from here over its own port. The main thread only hears which rows exist.
 */
import { RowArena } from '../src/core/row-arena';
import type { EmbeddingStore } from '../src/storage/embedding-store';
import type { WriteResult } from './store.worker';

/** A batch of a streamed run, as the model worker posts it (the buffer is transferred). */
export interface RowsMessage {
  run: number;
  /** `seq` of each row, in row order. */
  seqs: number[];
  /** seqs.length × dim, unit rows. */
  embeddings: Float32Array;
  /** The backend that made the rows (it changes if the GPU device is lost mid-run). */
  backend: string;
}

/** What a streamed run's batches are: set by the main thread before the first row is asked for. */
export interface RunRows {
  /** Image rows (keyed by content hash) or text rows (keyed by the exact text). */
  tower: 'vision' | 'text';
  /** The memo the rows belong to (one per embedding cache and tower). */
  memo: string;
  /** The key of each row of the stream, by `seq`: content hashes of images, or texts. */
  hashes: string[];
  /** The tower key; rows are stored under it, with `:<runBackend>` swapped for the batch's backend. */
  towerKey: string;
  runBackend: string;
  /** The model's name for a record of a key first used mid-run (another backend after a GPU loss). */
  label: string;
  dim: number;
  /** Write rows to IndexedDB (false: memory only, the bench's cold runs). */
  write: boolean;
  /** The run record to keep up to date, and how many of the run's images were stored before this stream. */
  record: { id: string; storedImages: number } | null;
}

/** The rows the analysis worker asks for (see `gather`). */
export interface RowsRef {
  memo: string;
  keys: string[];
}

interface OpenRun extends RunRows {
  received: number;
  /** `seq` of each row received and held in the memo. */
  held: number[];
  writes: Promise<WriteResult>[];
  waiters: (() => void)[];
}

type Writer = (body: (s: EmbeddingStore) => Promise<void>) => Promise<WriteResult>;

export class RowMemo {
  private memos = new Map<string, { key: string; arena: RowArena }>();
  private runs = new Map<number, OpenRun>();

  constructor(private writer: Writer) {}

  /** Start memo `memo` afresh for `key` (a tower key) and rows of `dim`. */
  reset(memo: string, key: string, dim: number): void {
    this.memos.set(memo, { key, arena: new RowArena(dim) });
  }

  /** Keep rows (keys.length×dim) in `memo` if it still serves `key`; whether they were kept. */
  hold(memo: string, key: string | null, keys: string[], packed: Float32Array): boolean {
    const m = this.memos.get(memo);
    if (!m || (key !== null && m.key !== key)) return false;
    m.arena.put(keys, packed);
    return true;
  }

  /** Bytes memo `memo`'s buffer holds (0 when there is none). */
  heldBytes(memo: string): number {
    return this.memos.get(memo)?.arena.bytes ?? 0;
  }

  /** Rows of `ref` packed in its key order (a new buffer, for transfer). */
  gather(ref: RowsRef): Float32Array {
    const m = this.memos.get(ref.memo);
    if (!m) throw new Error(`No embeddings are held for this tab (${ref.memo}).`);
    return m.arena.gather(ref.keys);
  }

  open(run: number, rows: RunRows): void {
    this.runs.set(run, { ...rows, received: 0, held: [], writes: [], waiters: [] });
    // Room for the run's new rows at once, not by doubling (a 10,000-image B/32 run: 19.5 MiB, not 32).
    const m = this.memos.get(rows.memo);
    if (m?.key === rows.towerKey) {
      m.arena.ensure(m.arena.size + new Set(rows.hashes.filter((h) => !m.arena.has(h))).size);
    }
  }

  /** A batch from the model worker: into the memo, and written under the backend that made it. */
  take(msg: RowsMessage): void {
    const r = this.runs.get(msg.run);
    if (!r) return;
    const hashes = msg.seqs.map((q) => r.hashes[q]!);
    if (this.hold(r.memo, r.towerKey, hashes, msg.embeddings)) r.held.push(...msg.seqs);
    r.received += hashes.length;
    if (r.write) {
      const key = r.towerKey.replace(new RegExp(`:${r.runBackend}(?=:|$)`), `:${msg.backend || r.runBackend}`);
      if (key !== r.towerKey) {
        r.writes.push(
          this.writer((s) => s.touchModel({ fingerprint: key, tower: r.tower, label: r.label, dim: r.dim })),
        );
      }
      const record = r.record && { id: r.record.id, storedImages: r.record.storedImages + r.received };
      r.writes.push(
        this.writer((s) =>
          r.tower === 'text'
            ? s.putTexts(key, hashes, msg.embeddings, r.dim)
            : s.putImages(key, hashes, msg.embeddings, r.dim, record ?? undefined),
        ),
      );
    }
    const w = r.waiters;
    r.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves once `rows` rows of run `run` are here (held in the memo; writes may still be going). */
  async arrived(run: number, rows: number): Promise<void> {
    const r = this.runs.get(run);
    while (r && r.received < rows) await new Promise<void>((res) => r.waiters.push(res));
  }

  /**
   * Close a run once `rows` of its rows are here (the main thread counts the batches it was told of;
   * they travel on another port, so may arrive after the count) and its writes are done: the first
   * refused write (or `{ stored: true }`), and the `seq` of every row held (the main thread has their
   * keys: a 50,000-image run's keys took it 15 ms to take in, the seqs come as one buffer). Batches arriving
   * later are dropped, so `held` is what the run may count on (a batch that finished after a GPU loss
   * stopped the stream is either here or encoded again, never counted without its row).
   */
  async settle(run: number, rows: number): Promise<{ write: WriteResult; held: Uint32Array }> {
    const r = this.runs.get(run);
    if (!r) return { write: { stored: true }, held: new Uint32Array(0) };
    await this.arrived(run, rows);
    this.runs.delete(run);
    const results = await Promise.all(r.writes);
    return { write: results.find((x) => !x.stored) ?? { stored: true }, held: Uint32Array.from(r.held) };
  }
}
