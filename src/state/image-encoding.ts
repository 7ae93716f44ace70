/**
 * The image half of a run, shared by classification and retrieval: after the cache lookup, encode
 * each distinct image content nothing has embedded yet, in chunks, writing every chunk to the cache
 * as it goes (so a reload mid-run loses nothing), and collect the files that could not be read.
 */
import type { Skipped } from '../core/image-folder';
import { WorkbenchError } from '../data/errors';
import type { EngineState } from './engine.svelte';
import type { EmbeddingCache, ImageLookup } from './embedding-cache.svelte';

/**
 * Images per call into the model worker. Posting a File costs the main thread about half a
 * millisecond (Chromium registers a blob reference per file), so chunks stay small enough that no
 * single post becomes a long task, and progress and cancel stay responsive.
 */
const CHUNK = 32;

export interface EncodeImages {
  engine: EngineState;
  cache: EmbeddingCache;
  /** Paths (for messages) and contents of the run's images, in the same order as `lookup.hashes`. */
  paths: string[];
  blobs: Blob[];
  lookup: ImageLookup;
  /** What the interrupted-run notice shows after a reload. */
  run: { dataset: string; modelLabel: string; visionModel: string };
  /** Called once before encoding: images already embedded (or unreadable), and all images. */
  onStart: (done: number, total: number) => void;
  /** Called after each chunk with its size and every failure so far. */
  onChunk: (n: number, failed: Skipped[]) => void;
}

/** Returns the failures (unreadable or undecodable files) and how many images were encoded. */
export async function encodeMissingImages(
  a: EncodeImages,
): Promise<{ failed: Skipped[]; encoded: number; ms: number }> {
  const { engine, cache, paths, blobs, lookup } = a;
  const { hashes, unreadable } = lookup;
  const dim = engine.info!.embeddingDim;
  const failed: Skipped[] = [];
  const todo: number[] = [];
  const queued = new Set<string>();
  hashes.forEach((h, i) => {
    if (h === null) failed.push({ file: paths[i]!, reason: unreadable.get(i) ?? 'it could not be read' });
    else if (!cache.image(h) && !queued.has(h)) {
      queued.add(h);
      todo.push(i);
    }
  });
  let stored = hashes.length - failed.length - todo.length;
  if (todo.length > 0) {
    await cache.beginRun({
      id: crypto.randomUUID(),
      ...a.run,
      totalImages: hashes.length,
      storedImages: stored,
      startedAt: Date.now(),
      updatedAt: Date.now(),
    });
  }
  const t0 = performance.now();
  a.onStart(hashes.length - todo.length, hashes.length);
  if (failed.length > 0) a.onChunk(0, failed);
  let encoded = 0;
  const generation = engine.generation;
  const runBackend = engine.info!.backend;
  for (let s = 0; s < todo.length; s += CHUNK) {
    if (engine.generation !== generation || engine.status !== 'ready') {
      throw new WorkbenchError(
        'model-mismatch',
        'The run stopped because another model was loaded while it ran. Run again to evaluate the new model.',
      );
    }
    const chunk = todo.slice(s, s + CHUNK);
    const res = await engine.embedImages(chunk.map((i) => ({ name: paths[i]!, blob: blobs[i]! })));
    const bad = new Map(res.failed.map((f) => [f.index, f.reason]));
    const okRows: number[] = [];
    chunk.forEach((i, k) => {
      const reason = bad.get(k);
      if (reason !== undefined) failed.push({ file: paths[i]!, reason });
      else okRows.push(k);
    });
    encoded += okRows.length;
    stored += okRows.length;
    // Rows go to the cache under the backend that made them (the run's, until a GPU loss switches it).
    const byBackend = new Map<string, number[]>();
    for (const k of okRows) {
      const b = res.backends[k] || runBackend;
      byBackend.set(b, [...(byBackend.get(b) ?? []), k]);
    }
    for (const [backend, rows] of byBackend) {
      const packed = new Float32Array(rows.length * dim);
      rows.forEach((k, j) => packed.set(res.embeddings.subarray(k * dim, (k + 1) * dim), j * dim));
      const key = cache.visionKey.replace(new RegExp(`:${runBackend}(?=:|$)`), `:${backend}`);
      cache.putImages(
        rows.map((k) => hashes[chunk[k]!]!),
        packed,
        dim,
        stored,
        key,
      );
    }
    a.onChunk(chunk.length, failed);
  }
  return { failed, encoded, ms: performance.now() - t0 };
}
