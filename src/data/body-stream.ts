/**
 * Reading a model file's body (a download, a cached copy, a picked File): a limit on how long a read may go
 * without a byte, the body into one buffer or as its chunks, the chunks in order through one reused buffer, a
 * buffer as a body again (what the cache stores), and an ONNX file split or hashed as it is read.
 */
import { WorkbenchError, cancelledError } from './errors';
import { within } from '../core/within';
import { splitWeights, type ExternalWeights } from '../core/onnx-split';
import { createSHA256 } from 'hash-wasm';
import { partHasher } from './content-hash';
import { concatArrays } from '../core/vector';

/** No bytes came for `stallMs` (model-fetch.ts, CACHE_STALL_MS). */
export class Stalled extends Error {}

/** A read that rejects with Stalled when nothing comes within `ms` (the reader is cancelled, not awaited). */
export async function readWithin<T extends object>(
  read: Promise<T>,
  ms: number,
  cancel: () => Promise<void>,
): Promise<T> {
  const step = await within(read, ms);
  if (step !== null) return step;
  cancel().catch(() => undefined);
  throw new Stalled(`no bytes for ${ms / 1000} s`);
}

/** A download that stopped before its end, after `loaded` bytes (kept, to resume from). */
export class CutOff extends Error {
  constructor(
    readonly loaded: number,
    why: string,
  ) {
    super(why);
  }
}

/** The body was longer than its length (a compressed download whose encoding was not exposed). */
export class LongerThanLength extends Error {}

/**
 * `body` read from `offset` on, reporting the bytes so far: into `sink` when it is a buffer (then through one
 * 1 MB buffer the reader fills again and again, a BYOB reader, copied into `sink`: the browser never wraps
 * `sink` and no chunks are left for the GC, which in an idle model worker may not come for a whole run — reading
 * into the big buffer itself kept it resident, detached or not, until a GC: +600 MB at a B/32 run's start),
 * else as the chunks that arrive, appended to `sink`. Returns the bytes read in all, or null when `sink` is a
 * buffer and `body` is not a byte stream (nothing read). Throws CutOff when the body fails or ends short of
 * `sink`'s length (or of `total`), LongerThanLength when it runs past `sink`'s end.
 */
export async function readBody(
  body: ReadableStream<Uint8Array>,
  sink: Uint8Array | Uint8Array[],
  offset = 0,
  total: number | null = null,
  report: (loaded: number) => void = () => {},
  signal?: AbortSignal,
  stallMs = Infinity,
): Promise<number | null> {
  const into = sink instanceof Uint8Array ? sink : null;
  let reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = into ? body.getReader({ mode: 'byob' }) : body.getReader();
  } catch {
    return null; // not a byte stream
  }
  let staging = new ArrayBuffer(1 << 20);
  let loaded = offset;
  let lastReport = 0;
  for (;;) {
    if (signal?.aborted) {
      await reader.cancel();
      throw cancelledError();
    }
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await readWithin(
        into
          ? (reader as ReadableStreamBYOBReader).read(new Uint8Array(staging))
          : (reader as ReadableStreamDefaultReader<Uint8Array>).read(),
        stallMs,
        () => reader.cancel(),
      );
    } catch (e) {
      if (signal?.aborted) throw cancelledError();
      if (e instanceof Stalled) throw e;
      throw new CutOff(loaded, e instanceof Error ? e.message : String(e));
    }
    if (step.done) break;
    const chunk = step.value;
    if (into) {
      if (loaded + chunk.byteLength > into.byteLength) {
        await reader.cancel();
        throw new LongerThanLength(`the body is longer than ${into.byteLength} bytes`);
      }
      into.set(chunk, loaded);
      staging = chunk.buffer as ArrayBuffer; // the read hands the (moved) staging buffer back
    } else (sink as Uint8Array[]).push(chunk);
    loaded += chunk.byteLength;
    if (loaded - lastReport > 256 * 1024) {
      lastReport = loaded;
      report(loaded);
    }
  }
  // A compressed body can be longer than its Content-Length, never shorter.
  const end = into ? into.byteLength : total;
  if (end !== null && loaded < end) throw new CutOff(loaded, `the body ended at ${loaded} of ${end} bytes`);
  return loaded;
}

/**
 * A body's bytes in a buffer that only this worker's JS references (see readBody; not `arrayBuffer()`,
 * whose buffer the browser has wrapped: the model worker sits idle after a load, and a B/32 pair's 580 MB
 * stayed resident through a whole run). Through a BYOB reader with its `size` known, else joined from the chunks.
 */
export async function ownBytes(
  body: ReadableStream<Uint8Array> | null,
  size?: number,
  stallMs = Infinity,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!body) return new Uint8Array(0);
  if (size !== undefined && size > 0) {
    const out = new Uint8Array(size);
    if ((await readBody(body, out, 0, null, undefined, undefined, stallMs)) !== null) return out;
  }
  const chunks: Uint8Array[] = [];
  await readBody(body, chunks, 0, size ?? null, undefined, undefined, stallMs);
  return concatArrays(chunks, (n) => new Uint8Array(n));
}

/**
 * A buffer as a response body (what Cache Storage stores) in 1 MB copies, pulled as the cache writes them:
 * the buffer itself is never handed to the browser (see ownBytes).
 */
export function streamOf(buf: Uint8Array): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= buf.byteLength) return controller.close();
      controller.enqueue(buf.slice(off, off + (1 << 20)));
      off += 1 << 20;
    },
  });
}

/**
 * A body's chunks in order, read through one 1 MB buffer (a BYOB reader, see readBody), which the next chunk
 * reuses: use each up before asking for the next. Stalled after `stallMs` without a byte.
 */
async function* chunksOf(
  body: ReadableStream<Uint8Array>,
  stallMs: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream: the browser's own chunks
  }
  const reader = byob ?? body.getReader();
  let staging = new ArrayBuffer(1 << 20);
  try {
    for (;;) {
      if (signal?.aborted) throw cancelledError();
      const step = await readWithin<ReadableStreamReadResult<Uint8Array>>(
        byob ? byob.read(new Uint8Array(staging)) : (reader as ReadableStreamDefaultReader<Uint8Array>).read(),
        stallMs,
        () => reader.cancel(),
      );
      if (step.done) return;
      yield step.value;
      if (byob) staging = step.value.buffer as ArrayBuffer;
    }
  } finally {
    // Ended, stalled or left early: nothing more is read (not awaited: a stalled read may never settle).
    reader.cancel().catch(() => undefined);
  }
}

/** A model file split as it was read (core/onnx-split.ts), with its `hashParts([file])` hash. */
export interface SplitFile {
  graph: Uint8Array<ArrayBuffer>;
  weights: ExternalWeights;
  /** Initializers moved into `weights` (0: `graph` is the file itself). */
  moved: number;
  /** The file's length in bytes. */
  size: number;
  hash: string;
  /** The file's SHA-256 (hex), when asked for (`sha256`). */
  sha256: string | null;
}

/**
 * An ONNX file's body of `size` bytes split as it is read (core/onnx-split.ts), one buffer per weight, with
 * its `hashParts([file])` hash, and its SHA-256 when `sha256` is set (for run manifests, as ModelFiles.bytes
 * makes it). Null when the read fails or the bytes do not parse (`path` names it); Stalled when it stalls.
 */
export async function splitBody(
  body: ReadableStream<Uint8Array>,
  size: number,
  path: string,
  location: string,
  opts: { stallMs: number; sha256: boolean; signal?: AbortSignal | undefined },
): Promise<SplitFile | null> {
  const { stallMs, signal } = opts;
  const hasher = await partHasher(size);
  const sha = opts.sha256 ? await createSHA256() : null;
  sha?.init();
  const chunks = chunksOf(body, stallMs, signal);
  let split: Awaited<ReturnType<typeof splitWeights>> | null = null;
  try {
    split = await splitWeights(
      async () => {
        const step = await chunks.next();
        if (step.done) return null;
        hasher.update(step.value);
        sha?.update(step.value);
        return step.value;
      },
      size,
      location,
    );
    if (!(await chunks.next()).done) throw new Error(`${path} is longer than ${size} bytes`);
    return { ...split, size, hash: hasher.digest(), sha256: sha ? sha.digest('hex') : null };
  } catch (e) {
    split?.weights.release();
    if (signal?.aborted) throw cancelledError();
    if ((e instanceof WorkbenchError && e.code === 'cancelled') || e instanceof Stalled) throw e;
    return null;
  } finally {
    await chunks.return();
  }
}

/**
 * A body's `hashParts([file])` hash (content-hash.ts), made as it streams in: never the whole file at once.
 * Stalled after `stallMs` without a byte; null when it is not `size` bytes long.
 */
export async function hashBody(
  body: ReadableStream<Uint8Array>,
  size: number,
  stallMs: number,
  signal?: AbortSignal,
): Promise<string | null> {
  const hasher = await partHasher(size);
  let read = 0;
  for await (const chunk of chunksOf(body, stallMs, signal)) {
    hasher.update(chunk);
    read += chunk.byteLength;
  }
  return read === size ? hasher.digest() : null;
}
