/**
 * Reading a model file's body (a download, a cached copy, a picked File): a limit on how long a read may go
 * without a byte, the chunks in order through one reused buffer, and an ONNX file split as it is read.
 */
import { WorkbenchError, cancelledError } from './errors';
import { within } from '../core/within';
import { splitWeights, type ExternalWeights } from '../core/onnx-split';
import { createSHA256 } from 'hash-wasm';
import { partHasher } from './content-hash';

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
