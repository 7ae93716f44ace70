/**
 * The image half of a run, shared by classification and retrieval: after the cache lookup, encode
 * each distinct image content nothing has embedded yet — decoded in the pool of decode workers, pixels
 * sent straight to the model worker, embedded in batches with two in flight, each batch's rows sent
 * straight to the cache worker, which holds them and writes them to IndexedDB as they arrive (so a
 * reload mid-run loses nothing) — and collect the files that could not be read. The main thread sees
 * only which images are done. Prompts and captions take the same road (`encodePrompts`).
 */
import type { Skipped } from '../core/image-folder';
import { imageNotes } from '../data/image-decode';
import * as Comlink from 'comlink';
import { WorkbenchError, cancelledError, describeError } from '../data/errors';
import type { EmbedProgress, RowsRef, StreamProgress } from '../../workers/clip-api';
import { DecodePool, poolSize } from './decode-pool';
import { gateDecoding } from '../engine/runtime-gate';
import type { EngineState } from './engine.svelte';
import { nextStreamId, type EmbeddingCache, type ImageLookup } from './embedding-cache.svelte';
import { nextTask } from '../core/next-task';

/**
 * Images handed out but not yet answered for by the model worker: enough to keep every decode worker
 * and two inference batches busy, few enough that decoded pixels (600 KB each at 224 px) never pile up.
 */
const WINDOW = 32;

let pool: DecodePool | null = null;
/** The model worker's link to the cache worker, made on first use (and again when that worker is replaced). */
let storeLink: Promise<void> | null = null;
/** Engines whose model-worker replacement drops the pool and the link (registered once each). */
const watching = new WeakSet<EngineState>();

function watch(engine: EngineState): void {
  if (watching.has(engine)) return;
  watching.add(engine);
  engine.onWorkerReplaced(() => {
    pool?.terminate();
    pool = null;
    storeLink = null;
  });
}

/** The page's decode pool, wired to the model worker. */
function decodePool(engine: EngineState): DecodePool {
  watch(engine);
  return (pool ??= new DecodePool((port, gate) => engine.pipeline.connectDecoder(port, gate)));
}

/** A MessagePort from the model worker to the cache worker, over which every embedded batch travels. */
function linkStore(engine: EngineState, cache: EmbeddingCache): Promise<void> {
  watch(engine);
  storeLink ??= (async () => {
    const { port1, port2 } = new MessageChannel();
    await cache.store.acceptBatches(Comlink.transfer(port2, [port2]));
    await engine.pipeline.connectStore(Comlink.transfer(port1, [port1]));
  })().catch((e: unknown) => {
    storeLink = null;
    throw e;
  });
  return storeLink;
}

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
  /** Called after each batch with its size and every failure so far. */
  onChunk: (n: number, failed: Skipped[]) => void;
  /** Cancels the run: decoding stops handing out work and the model worker drops the rest. */
  signal?: AbortSignal;
}

/**
 * Rows of a run's prompts or captions, held in the cache worker (see `EmbeddingCache.prompts`): those
 * not cached are embedded in the model worker, which sends the rows straight to the cache worker.
 * `onEncode` is called with how many will be encoded (only when some are), `onProgress` as they are.
 */
export async function encodePrompts(
  engine: EngineState,
  cache: EmbeddingCache,
  prompts: string[],
  onEncode: (total: number) => void,
  onProgress?: (done: number) => void,
): Promise<{ rows: RowsRef; hits: number; misses: number }> {
  return cache.prompts(prompts, engine.info!.backend, async (todo, run) => {
    await linkStore(engine, cache);
    onEncode(todo.length);
    await engine.pipeline.embedTextsTo(
      run,
      todo,
      onProgress ? Comlink.proxy((p: EmbedProgress) => onProgress(p.done)) : undefined,
    );
  });
}

/** `p`, or a "cancelled" rejection as soon as `signal` aborts (p itself runs on; its result is dropped). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(cancelledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Returns the failures (unreadable or undecodable files), the remarks on images evaluated with a
 * caveat (see `imageNotes`), and how many images were encoded. When the GPU device goes with a batch in
 * flight and the model worker cannot run again, the model is reloaded on WASM in a fresh worker and the
 * images not embedded yet are encoded there (once; a second loss is an error).
 */
export async function encodeMissingImages(
  a: EncodeImages,
): Promise<{ failed: Skipped[]; notes: Skipped[]; encoded: number; ms: number }> {
  const { engine, cache, paths, blobs, lookup } = a;
  const { hashes, unreadable } = lookup;
  // The lookup's end and the run's start ran in the task that started it; what follows reads every image
  // (10,000 images: about 15 ms on 2 cores), so it starts a task of its own.
  await nextTask();
  const failed: Skipped[] = [];
  hashes.forEach((h, i) => {
    if (h === null) failed.push({ file: paths[i]!, reason: unreadable.get(i) ?? 'it could not be read' });
  });
  /** Images still to embed: one per distinct content not in the cache and not failed. */
  const pending = () => {
    const failedFiles = failed.length > 0 ? new Set(failed.map((f) => f.file)) : null;
    const todo: number[] = [];
    const queued = new Set<string>();
    hashes.forEach((h, i) => {
      if (h !== null && !cache.has(h) && !queued.has(h) && !failedFiles?.has(paths[i]!)) {
        queued.add(h);
        todo.push(i);
      }
    });
    return todo;
  };
  const todo = pending();
  await nextTask();
  const progress = { stored: hashes.length - failed.length - todo.length, encoded: 0 };
  if (todo.length > 0) {
    await cache.beginRun({
      id: crypto.randomUUID(),
      ...a.run,
      totalImages: hashes.length,
      storedImages: progress.stored,
      startedAt: Date.now(),
      updatedAt: Date.now(),
    });
  }
  const t0 = performance.now();
  a.onStart(hashes.length - todo.length, hashes.length);
  if (failed.length > 0) a.onChunk(0, failed);
  const generation = engine.generation;
  const runBackend = engine.info!.backend;
  const signal = a.signal ?? new AbortController().signal;
  const notes = imageNotes(paths, blobs);
  notes.catch(() => undefined); // awaited below
  if (todo.length > 0) {
    try {
      await encodeRound(a, todo, failed, progress, runBackend, signal);
    } catch (e) {
      if (describeError(e).code !== 'gpu-lost' || signal.aborted) throw e;
      await engine.restartOnWasm();
      const rest = pending();
      if (rest.length > 0) await encodeRound(a, rest, failed, progress, runBackend, signal);
    }
    if (engine.generation !== generation) {
      throw new WorkbenchError(
        'model-mismatch',
        'The run stopped because another model was loaded while it ran. Run again to evaluate the new model.',
      );
    }
    if (signal.aborted) throw cancelledError();
  }
  // A file that failed is listed among the failures only, whatever its header says.
  const failedFiles = new Set(failed.map((f) => f.file));
  const remarks = (await notes).filter((n) => !failedFiles.has(n.file));
  // In the folder's order: the decode workers report failures in whatever order they finish. (A map of
  // every path took 25 ms for 50,000 images: made only when there is something to sort.)
  if (failed.length > 1) {
    const order = new Map(a.paths.map((p, i) => [p, i]));
    failed.sort((x, y) => (order.get(x.file) ?? order.size) - (order.get(y.file) ?? order.size));
  }
  const ms = performance.now() - t0;
  // The caller's bookkeeping over every image (which are scored, their labels) starts a task of its own.
  await nextTask();
  return { failed, notes: remarks, encoded: progress.encoded, ms };
}

/**
 * Encode the images `todo` (indices into the run) in the model worker: decode in the pool, batches to
 * the cache worker (held, and written under the backend that made them); failures appended to `failed`.
 */
async function encodeRound(
  a: EncodeImages,
  todo: number[],
  failed: Skipped[],
  progress: { stored: number; encoded: number },
  runBackend: string,
  signal: AbortSignal,
): Promise<void> {
  const { engine, cache, paths, blobs } = a;
  const hashes = a.lookup.hashes;
  const pipe = engine.pipeline;
  const run = nextStreamId();
  await linkStore(engine, cache);
  const streamHashes = todo.map((i) => hashes[i]!);
  await cache.openRun(run, streamHashes, runBackend, progress.stored);
  try {
    await pipe.openStream(run);
  } catch (e) {
    await cache.settleRun(run, 0, streamHashes).catch(() => undefined); // closed in the cache worker too, empty
    throw e;
  }
  // Stops dispatch when the run is cancelled or the model worker gives up (another model loaded…).
  const stop = new AbortController();
  const onAbort = () => {
    void pipe.cancelStream(run);
    stop.abort();
    wakeAll();
  };
  signal.addEventListener('abort', onAbort);
  let answered = 0;
  let rows = 0;
  // Every decode lane waiting for room in the window (one per decode worker).
  let waiters: (() => void)[] = [];
  const wakeAll = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  const admit = async (dispatched: number) => {
    while (!stop.signal.aborted && dispatched - answered >= WINDOW) {
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  // Set when the round settles: a batch reported after that (one that finished after a GPU loss stopped
  // the stream) is not counted; the cache worker says which rows it holds, and the rest are encoded again.
  let closed = false;
  const onBatch = (b: StreamProgress) => {
    if (closed) return;
    answered += b.seqs.length + b.failed.length;
    wakeAll();
    for (const f of b.failed) failed.push({ file: f.file ?? paths[todo[f.seq]!]!, reason: f.reason });
    rows += b.seqs.length;
    progress.encoded += b.seqs.length;
    progress.stored += b.seqs.length;
    a.onChunk(b.seqs.length + b.failed.length, failed);
  };
  // A cancel during the awaits above fired no event: without this the run never settled (the model
  // worker's stream, opened, waited for pixels; the run waited for the stream).
  if (signal.aborted) onAbort();
  try {
    const embedding = pipe.embedStream(run, todo.length, Comlink.proxy(onBatch));
    embedding.catch(() => onAbort());
    const jobs = todo.map((i, seq) => ({ run, seq, name: paths[i]!, blob: blobs[i]! }));
    const decoders = decodePool(engine);
    const { backend, probe } = engine.info!;
    const lanes = poolSize(backend);
    const gated = gateDecoding(backend, probe.wasmThreads, lanes, probe.cores);
    await decoders.dispatch(jobs, engine.info!.preprocess, engine.resizeMode, admit, stop.signal, lanes, gated);
    await embedding;
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Every row reported is in the cache worker (and written) before the run reads or resumes from it.
    closed = true;
    const late = (await cache.settleRun(run, rows, streamHashes)) - rows; // rows that arrived after the last count
    progress.encoded += late;
    progress.stored += late;
  }
}
