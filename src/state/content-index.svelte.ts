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
    // One pass over the files when all are hashed, as after the intake's hashing; a second only when some
    // were hashed here. (Three passes and a filter made, with the lookup after it, one 42–122 ms task at
    // the start of a 50,000-image run on 2 cores.)
    for (let pass = 0; ; pass++) {
      const hashes: (string | null)[] = new Array<string | null>(blobs.length).fill(null);
      const unreadable = new Map<number, string>();
      const toHash: Blob[] = [];
      blobs.forEach((b, i) => {
        const h = this.hashes.get(b);
        if (h !== undefined) hashes[i] = h;
        else {
          const reason = this.unreadable.get(b);
          if (reason !== undefined) unreadable.set(i, reason);
          else toHash.push(b);
        }
      });
      if (toHash.length === 0 || pass > 0) return { hashes, unreadable };
      await this.index(toHash);
    }
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
