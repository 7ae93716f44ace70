/**
 * Reading a model file's body (a download, a cached copy, a picked File): a limit on how long a read may go
 * without a byte, the chunks in order through one reused buffer, and an ONNX file split as it is read.
 */
import { WorkbenchError, cancelledError } from './errors';
import { within } from '../core/within';
import { splitWeights, type ExternalWeights } from '../core/onnx-split';
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
  hash: string;
}

/**
 * An ONNX file's body of `size` bytes split as it is read (core/onnx-split.ts), one buffer per weight, with
 * its `hashParts([file])` hash. Null when the read stalls, fails or the bytes do not parse (`path` names it).
 */
export async function splitBody(
  body: ReadableStream<Uint8Array>,
  size: number,
  path: string,
  location: string,
  stallMs: number,
  signal?: AbortSignal,
): Promise<SplitFile | null> {
  const hasher = await partHasher(size);
  const chunks = chunksOf(body, stallMs, signal);
  let split: Awaited<ReturnType<typeof splitWeights>> | null = null;
  try {
    split = await splitWeights(
      async () => {
        const step = await chunks.next();
        if (step.done) return null;
        hasher.update(step.value);
        return step.value;
      },
      size,
      location,
    );
    if (!(await chunks.next()).done) throw new Error(`${path} is longer than ${size} bytes`);
    return { ...split, hash: hasher.digest() };
  } catch (e) {
    split?.weights.release();
    if (signal?.aborted) throw cancelledError();
    if (e instanceof WorkbenchError && e.code === 'cancelled') throw e;
    return null;
  } finally {
    await chunks.return();
  }
}
