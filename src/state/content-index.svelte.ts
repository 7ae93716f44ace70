/**
 * Content hashes of picked image files, memoized per File (a File's bytes cannot change while it is
 * held). Hashing starts when a folder is picked, so a run usually finds every hash ready.
 */
import { hashBlobs } from '../data/content-hash';

export interface IndexProgress {
  done: number;
  total: number;
  /** How long the hashing took, once done. */
  ms: number | null;
}

export class ContentIndex {
  /** Progress of the latest hashing (shown under the dataset summary). */
  progress = $state<IndexProgress | null>(null);
  /** Called as the latest hashing advances (a run shows it while it waits). */
  onProgress: (done: number) => void = () => {};

  private hashes = new WeakMap<Blob, string>();
  private unreadable = new WeakMap<Blob, string>();
  private pending: Promise<void> | null = null;

  /** Begin hashing these files in the background (a newly picked folder). */
  start(blobs: Blob[]): void {
    this.pending = this.index(blobs);
  }

  /** Hashes of `blobs` (null where unreadable, with the reason), waiting for hashing in progress. */
  async hashesOf(blobs: Blob[]): Promise<{ hashes: (string | null)[]; unreadable: Map<number, string> }> {
    await this.pending;
    const toHash = blobs.filter((b) => !this.hashes.has(b) && !this.unreadable.has(b));
    if (toHash.length > 0) await this.index(toHash);
    const unreadable = new Map<number, string>();
    blobs.forEach((b, i) => {
      const reason = this.unreadable.get(b);
      if (reason !== undefined) unreadable.set(i, reason);
    });
    return { hashes: blobs.map((b) => this.hashes.get(b) ?? null), unreadable };
  }

  private async index(blobs: Blob[]): Promise<void> {
    const t0 = performance.now();
    this.progress = { done: 0, total: blobs.length, ms: null };
    const state = this.progress; // this hashing's own record, even if another folder is picked meanwhile
    const r = await hashBlobs(blobs, (done) => {
      state.done = done;
      if (this.progress === state) this.onProgress(done);
    });
    blobs.forEach((b, k) => {
      const h = r.hashes[k];
      if (h) this.hashes.set(b, h);
      else this.unreadable.set(b, r.failed.get(k) ?? 'it could not be read');
    });
    state.ms = performance.now() - t0;
  }
}
