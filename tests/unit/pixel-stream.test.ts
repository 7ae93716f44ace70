// The model worker's side of the run pipeline (workers/pixel-stream.ts): batches packed from the decode
// workers' pixels, two in flight, the batch buffers reused in turn and each image's buffer sent back to
// the decode worker that filled it (no garbage per image: issue 12's 10,000-image memory).
import { afterEach, describe, expect, it } from 'vitest';
import type { ClipModel } from '../../src/engine/clip-model';
import { PixelStream } from '../../workers/pixel-stream';

const W = 2;
const H = 2;
const PLANE = 3 * W * H;

/** A model whose image call takes `ms` and checks, when it returns, that its batch was not overwritten. */
function fakeModel(ms: number) {
  const calls: { seqs: number[]; buffer: ArrayBufferLike; intact: boolean }[] = [];
  let inside = 0;
  let maxInside = 0;
  const model = {
    info: { imageSize: { width: W, height: H }, backend: 'wasm' },
    async embedPixels(px: Float32Array, n: number): Promise<Float32Array> {
      expect(px.length).toBe(n * PLANE);
      const seqs = Array.from({ length: n }, (_, k) => px[k * PLANE]!);
      const before = px.slice();
      maxInside = Math.max(maxInside, ++inside);
      await new Promise((r) => setTimeout(r, ms));
      inside--;
      calls.push({ seqs, buffer: px.buffer, intact: px.every((v, i) => v === before[i]) });
      return new Float32Array(n).map((_, k) => seqs[k]!);
    },
  };
  return { model: model as unknown as ClipModel, calls, inFlight: () => maxInside };
}

/** An image's pixels: every value is its seq, so a batch shows which images it holds. */
function pixels(seq: number): Float32Array {
  return new Float32Array(PLANE).fill(seq);
}

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

describe('PixelStream', () => {
  it('embeds every image once, in batches that are not overwritten while their model call runs', async () => {
    const ch = new MessageChannel();
    channels.push(ch);
    const back: ArrayBuffer[] = [];
    ch.port2.onmessage = (e: MessageEvent<ArrayBuffer>) => back.push(e.data);
    const stream = new PixelStream();
    const sent: Float32Array[] = [];
    const total = 21;
    for (let seq = 0; seq < total; seq++) {
      const p = pixels(seq);
      sent.push(p);
      stream.push({ run: 1, seq, pixels: p }, ch.port1);
    }
    const { model, calls, inFlight } = fakeModel(15);
    const rows: number[] = [];
    await stream.run(
      model,
      total,
      4,
      (b) => void rows.push(...b.seqs),
      () => {},
    );

    expect(rows).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(calls.map((c) => c.seqs).flat()).toEqual(rows);
    // Two batches in flight at once (this model, unlike the runtime, takes both), and neither overwritten.
    expect(inFlight()).toBe(2);
    expect(calls.every((c) => c.intact)).toBe(true);
    // Six batches (the last of one image) packed into two buffers, used in turn.
    expect(calls).toHaveLength(6);
    expect(new Set(calls.map((c) => c.buffer)).size).toBe(2);
    // Each image's buffer went back to its decode worker's port, detached here.
    await new Promise((r) => setTimeout(r, 20));
    expect(back).toHaveLength(total);
    expect(back.every((b) => b.byteLength === PLANE * 4)).toBe(true);
    expect(sent.every((p) => p.byteLength === 0)).toBe(true);
  });

  it('reports images that failed to decode without embedding them', async () => {
    const ch = new MessageChannel();
    channels.push(ch);
    const stream = new PixelStream();
    stream.push({ run: 1, seq: 0, pixels: pixels(0) }, ch.port1);
    stream.push({ run: 1, seq: 1, error: { code: 'image-decode', message: 'not an image', file: 'b.jpg' } }, ch.port1);
    stream.push({ run: 1, seq: 2, pixels: pixels(2) }, ch.port1);
    const { model, calls } = fakeModel(1);
    const failed: unknown[] = [];
    const rows: number[] = [];
    await stream.run(
      model,
      3,
      8,
      (b) => {
        rows.push(...b.seqs);
        failed.push(...b.failed);
      },
      () => {},
    );
    expect(rows).toEqual([0, 2]);
    expect(calls.map((c) => c.seqs)).toEqual([[0, 2]]);
    expect(failed).toEqual([{ seq: 1, file: 'b.jpg', code: 'image-decode', reason: 'not an image' }]);
  });
});
