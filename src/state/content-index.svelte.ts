/**
 * Content hashes of picked image files, memoized per File (a File's bytes cannot change while it is
 * held). Hashing starts when a folder is picked, so a run usually finds every hash ready.
 */
import { hashBlobs } from '../data/content-hash';

export interface IndexProgress {
  /** Files read and hashed. */
  done: number;
  /** Files whose size is known: all are asked before the first read (`hashBlobs`). */
  sized: number;
  total: number;
  /** When the hashing began, and when its reads began (null while the sizes are asked); page time. */
  startedAt: number;
  readsStartedAt: number | null;
  /** How long the hashing took, once done. */
  ms: number | null;
}

/** What a run shows while it waits for the hashing `p` (null: none in progress) of its `total` files. */
export function hashingStep(
  p: IndexProgress | null,
  total: number,
): { label: string; unit: string; done: number; total: number; startedAt: number } {
  if (p && p.ms === null) {
    return p.readsStartedAt === null
      ? { label: 'Checking file sizes', unit: 'files', done: p.sized, total: p.total, startedAt: p.startedAt }
      : { label: 'Reading file contents', unit: 'files', done: p.done, total: p.total, startedAt: p.readsStartedAt };
  }
  // Hashed: the cache lookup that follows.
  return {
    label: 'Checking the embedding cache',
    unit: 'files',
    done: p?.done ?? 0,
    total: p?.total ?? total,
    startedAt: p?.readsStartedAt ?? performance.now(),
  };
}

export class ContentIndex {
  /** Progress of the latest hashing (shown under the dataset summary). */
  progress = $state<IndexProgress | null>(null);
  /** Called as the latest hashing advances (a run shows it while it waits). */
  onProgress: (p: IndexProgress) => void = () => {};

  private hashes = new WeakMap<Blob, string>();
  private unreadable = new WeakMap<Blob, string>();
  private pending: Promise<void> | null = null;
  /** Stops the background hashing of the folder picked before (its files are hashed when a run needs them). */
  private background: AbortController | null = null;

  /**
   * Begin hashing these files in the background (a newly picked folder). The previous folder's hashing
   * stops: at 50,000 files it reads for a minute, and its reads would slow this one's.
   */
  start(blobs: Blob[]): void {
    this.background?.abort();
    const c = (this.background = new AbortController());
    this.pending = this.index(blobs, c.signal);
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

  /** Hash `blobs`. Stopped by `signal`, it keeps none of them: a run that needs them hashes them (`hashesOf`). */
  private async index(blobs: Blob[], signal?: AbortSignal): Promise<void> {
    const t0 = performance.now();
    this.progress = { done: 0, sized: 0, total: blobs.length, startedAt: t0, readsStartedAt: null, ms: null };
    const state = this.progress; // this hashing's own record, even if another folder is picked meanwhile
    let r: Awaited<ReturnType<typeof hashBlobs>>;
    try {
      r = await hashBlobs(
        blobs,
        (done, sized) => {
          state.done = done;
          state.sized = sized;
          if (sized === blobs.length) state.readsStartedAt ??= performance.now();
          if (this.progress === state) this.onProgress(state);
        },
        signal,
      );
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    }
    blobs.forEach((b, k) => {
      const h = r.hashes[k];
      if (h) this.hashes.set(b, h);
      else this.unreadable.set(b, r.failed.get(k) ?? 'it could not be read');
    });
    state.ms = performance.now() - t0;
  }
}
