/**
 * Content hashes (xxHash128, hex) of image files and model files: the cache keys of embeddings. Files
 * are read in groups through one concatenated Blob, which costs one read per group instead of one
 * per file; that is what makes hashing thousands of small images fast.
 */
import { createXXHash128, type IHasher } from 'hash-wasm';

/** A group holds at most this many files and bytes (big photos get small groups). */
const GROUP_FILES = 256;
const GROUP_BYTES = 32 << 20;

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

/** Consecutive index ranges [start, end) whose files fit one read. */
function groups(blobs: readonly Blob[]): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  blobs.forEach((b, i) => {
    if (i > start && (i - start >= GROUP_FILES || bytes + b.size > GROUP_BYTES)) {
      out.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += b.size;
  });
  if (start < blobs.length) out.push([start, blobs.length]);
  return out;
}

/**
 * Hash every blob's bytes. A file that cannot be read gets `null` and its reason in `failed`, so one
 * unreadable file never stops the others.
 */
export async function hashBlobs(
  blobs: readonly Blob[],
  onProgress?: (done: number) => void,
  signal?: AbortSignal,
): Promise<{ hashes: (string | null)[]; failed: Map<number, string> }> {
  const h = await hasher();
  const hashes: (string | null)[] = new Array<string | null>(blobs.length).fill(null);
  const failed = new Map<number, string>();
  const digestAll = (buf: Uint8Array, start: number, end: number) => {
    let off = 0;
    for (let i = start; i < end; i++) {
      const size = blobs[i]!.size;
      h.init();
      h.update(buf.subarray(off, off + size));
      hashes[i] = h.digest('hex');
      off += size;
    }
  };
  // Read the next group while hashing the current one.
  const read = (g: [number, number]) =>
    new Blob(blobs.slice(g[0], g[1]))
      .arrayBuffer()
      .then((b) => ({ ok: true as const, buf: new Uint8Array(b) }))
      .catch((e: unknown) => ({ ok: false as const, error: e }));
  const gs = groups(blobs);
  let next = gs.length > 0 ? read(gs[0]!) : null;
  for (let k = 0; k < gs.length; k++) {
    if (signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
    const [start, end] = gs[k]!;
    const cur = await next!;
    next = k + 1 < gs.length ? read(gs[k + 1]!) : null;
    if (cur.ok) digestAll(cur.buf, start, end);
    else {
      // One file of the group is unreadable (deleted or changed since it was picked): read them one by one.
      for (let i = start; i < end; i++) {
        try {
          digestAll(new Uint8Array(await blobs[i]!.arrayBuffer()), i, i + 1);
        } catch (e) {
          failed.set(i, `it could not be read (${e instanceof Error ? e.message : String(e)})`);
        }
      }
    }
    onProgress?.(end);
  }
  return { hashes, failed };
}
