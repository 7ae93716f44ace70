/**
 * The model worker's side of the run pipeline: pixels arrive from the decode workers over their
 * MessagePorts (in whatever order they finish), are packed into batches and embedded, with up to
 * two batches in flight, so decoding for the next batch never waits for the main thread.
 */
import type { ClipModel } from '../src/engine/clip-model';
import type { PixelMessage } from './decode.worker';

/** One embedded batch of a streamed run. */
export interface StreamBatch {
  /** `seq` of each embedded image, in row order of `embeddings`. */
  seqs: number[];
  /** seqs.length × dim, unit rows (transferred). */
  embeddings: Float32Array;
  /** Images that did not decode, with their error's code and file. */
  failed: { seq: number; file: string | null; code: string; reason: string }[];
  /** The backend that made these rows (it changes if the GPU device is lost mid-run). */
  backend: string;
}

/** What the main thread hears of a batch: its rows went to the cache worker (workers/row-memo.ts). */
export type StreamProgress = Omit<StreamBatch, 'embeddings'>;

/** Batches in flight: one in the runtime, the next packed and queued behind it. */
const IN_FLIGHT = 2;

export class PixelStream {
  private items: { seq: number; pixels: Float32Array; from: MessagePort }[] = [];
  private failed: StreamBatch['failed'] = [];
  private wake: (() => void) | null = null;
  private stopped: unknown = null;

  push(m: PixelMessage, from: MessagePort): void {
    if ('pixels' in m) this.items.push({ seq: m.seq, pixels: m.pixels, from });
    else this.failed.push({ seq: m.seq, file: m.error.file, code: m.error.code, reason: m.error.message });
    this.wake?.();
  }

  /** Stop the stream: the run rejects with `reason` (a cancel, or another model loaded). */
  stop(reason: unknown): void {
    this.stopped = reason;
    this.items = [];
    this.wake?.();
  }

  /** Wait until `n` images (embeddable or failed) are here, or the stream is stopped. */
  private async waitFor(n: number): Promise<void> {
    while (this.stopped === null && this.items.length + this.failed.length < n) {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
    if (this.stopped !== null) throw this.stopped;
  }

  /**
   * Embed `total` images as they arrive, `batch` per inference call; `onBatch` gets each result
   * (awaited, so a slow consumer holds the pipeline back instead of piling up memory).
   */
  async run(
    model: ClipModel,
    total: number,
    batch: number,
    onBatch: (b: StreamBatch) => Promise<void> | void,
    onEncoded: (n: number) => void,
  ): Promise<void> {
    const { width, height } = model.info.imageSize;
    const plane = 3 * width * height;
    let taken = 0;
    const inflight: Promise<void>[] = [];
    // The batches' pixels, packed into these in turn: batch k reuses batch k − IN_FLIGHT's, whose model call
    // has finished (awaited below before batch k is packed). A new buffer per batch (4.8 MB for B/32) left
    // garbage that piled up by about 100 MB between collections over a 10,000-image run.
    const ring: Float32Array[] = [];
    let packed = 0;
    while (taken < total) {
      await this.waitFor(Math.min(batch, total - taken));
      const items = this.items.splice(0, batch);
      const failed = this.failed.splice(0);
      taken += items.length + failed.length;
      const job = (async () => {
        let embeddings: Float32Array = new Float32Array(0);
        if (items.length > 0) {
          const slot = packed++ % IN_FLIGHT;
          const px = (ring[slot] ??= new Float32Array(batch * plane)).subarray(0, items.length * plane);
          items.forEach((it, k) => {
            px.set(it.pixels, k * plane);
            recycle(it.pixels, it.from);
          });
          embeddings = await model.embedPixels(px, items.length);
        }
        // A batch finished after a stop is dropped (and not counted): nothing reaches the cache half-done.
        if (this.stopped !== null) throw this.stopped;
        onEncoded(items.length);
        await onBatch({ seqs: items.map((i) => i.seq), embeddings, failed, backend: model.info.backend });
      })();
      job.catch(() => undefined); // awaited below, in order
      inflight.push(job);
      if (inflight.length >= IN_FLIGHT) await inflight.shift();
    }
    await Promise.all(inflight);
  }
}

/** Streams by run id, fed by the decode workers' ports. */
export const streams = new Map<number, PixelStream>();

/** An image's pixel buffer back to the decode worker that filled it, to be filled again (decode.worker.ts). */
function recycle(pixels: Float32Array, to: MessagePort): void {
  to.postMessage(pixels.buffer, [pixels.buffer]);
}

/** Listen on a decode worker's port; messages of runs no longer open are dropped (their buffers sent back). */
export function listen(port: MessagePort): void {
  port.onmessage = (e: MessageEvent<PixelMessage>) => {
    const stream = streams.get(e.data.run);
    if (stream) stream.push(e.data, port);
    else if ('pixels' in e.data) recycle(e.data.pixels, port);
  };
}
