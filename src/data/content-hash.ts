/**
 * Content hashes (xxHash128, hex) of image files and model files: the cache keys of embeddings.
 */
import { createXXHash128, type IHasher } from 'hash-wasm';
import { nextTask } from '../core/next-task';

/**
 * Reads in flight at once. Reading a picked File costs a round trip to the browser's blob store, not
 * CPU, so a few lanes of parallel reads keep it busy; measured in Chromium on the 8,000 CIFAR-10 train
 * files, 4 lanes take ~2 s where one read at a time takes ~3 s, and more lanes gain nothing.
 */
const LANES = 4;
/**
 * Files a lane reads together (one Promise.all); bounded in bytes below so big photos stay few. With
 * 64 the reads settling together made 62–64 ms main-thread tasks while a run started on the 8,000
 * CIFAR-10 train files; with 16, none over 40 ms. (Posting the Files to a worker instead costs the page
 * ~0.3 ms per File to serialize: 300–690 ms tasks per 1,000.)
 */
const LANE_FILES = 16;
const LANE_BYTES = 64 << 20;

let shared: Promise<IHasher> | null = null;

function hasher(): Promise<IHasher> {
  shared ??= createXXHash128();
  return shared;
}

/** xxHash128 of bytes or of a string (UTF-8), as 32 hex digits. */
export async function hashBytes(data: Uint8Array | string): Promise<string> {
  const h = await hasher();
  h.init();
  h.update(data);
  return h.digest('hex');
}

/** One hash of several parts, each length-prefixed so that part boundaries matter. */
export async function hashParts(parts: (Uint8Array | string)[]): Promise<string> {
  const h = await hasher();
  h.init();
  for (const p of parts) {
    const bytes = typeof p === 'string' ? new TextEncoder().encode(p) : p;
    h.update(`${bytes.byteLength}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

/**
 * `hashParts([file])` of a file of `size` bytes that arrives in pieces: `update` each piece in order, then
 * `digest`. Its own hasher, since other hashes run while the pieces arrive.
 */
export async function partHasher(size: number): Promise<{ update(b: Uint8Array): void; digest(): string }> {
  const h = await createXXHash128();
  h.init();
  h.update(`${size}:`);
  return { update: (b) => void h.update(b), digest: () => h.digest('hex') };
}

/**
 * Every blob's size, read in slices of at most ~20 ms with a task boundary between them. In Chromium a
 * File from `<input webkitdirectory>` has no size until asked, and each ask is a synchronous call to
 * the browser: ~0.2 ms with the browser idle, several ms while reads are in flight. Read in one pass,
 * 10,000 sizes held the main thread for 2.2–3.3 s (50,000: 10–15 s); read group by group between the
 * reads, a group's 16 took up to ~50 ms. A directory picker's files answer at once.
 */
async function sizesOf(
  blobs: readonly Blob[],
  onSized: (sized: number) => void,
  signal?: AbortSignal,
): Promise<Float64Array> {
  const sizes = new Float64Array(blobs.length);
  let slice = performance.now();
  for (let i = 0; i < blobs.length; i++) {
    sizes[i] = blobs[i]!.size;
    if (performance.now() - slice > 20) {
      onSized(i + 1);
      await nextTask();
      if (signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
      slice = performance.now();
    }
  }
  onSized(blobs.length);
  return sizes;
}

/** Consecutive index ranges [start, end) read together by one lane. */
function groups(sizes: Float64Array): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  sizes.forEach((size, i) => {
    if (i > start && (i - start >= LANE_FILES || bytes + size > LANE_BYTES)) {
      out.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  });
  if (start < sizes.length) out.push([start, sizes.length]);
  return out;
}

/**
 * Hash every blob's bytes. Reads are asynchronous and hashing a file takes microseconds, so this
 * runs on the main thread without long tasks (and without the cost of posting thousands of Files to
 * a worker). A file that cannot be read gets `null` and its reason in `failed`; the others go on.
 * `onProgress` hears how many files are hashed (`done`) and, before any is read, how many sizes are
 * known (`sized`; 10,000 picked files take about 2 s in Chromium, see `sizesOf`).
 */
export async function hashBlobs(
  blobs: readonly Blob[],
  onProgress?: (done: number, sized: number) => void,
  signal?: AbortSignal,
): Promise<{ hashes: (string | null)[]; failed: Map<number, string> }> {
  const h = await hasher();
  const hashes: (string | null)[] = new Array<string | null>(blobs.length).fill(null);
  const failed = new Map<number, string>();
  const gs = groups(await sizesOf(blobs, (sized) => onProgress?.(0, sized), signal));
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < gs.length) {
      if (signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
      const [start, end] = gs[next++]!;
      const reads = await Promise.allSettled(blobs.slice(start, end).map((b) => b.arrayBuffer()));
      reads.forEach((r, k) => {
        if (r.status === 'fulfilled') {
          h.init();
          h.update(new Uint8Array(r.value));
          hashes[start + k] = h.digest('hex');
        } else {
          const e: unknown = r.reason;
          failed.set(start + k, `it could not be read (${e instanceof Error ? e.message : String(e)})`);
        }
      });
      done += end - start;
      onProgress?.(done, blobs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LANES, gs.length) }, lane));
  return { hashes, failed };
}
