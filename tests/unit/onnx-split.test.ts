/**
 * A model split as it is read (src/core/onnx-split.ts): the same graph as externalizeWeights makes from
 * the whole file, each weight in its own buffer, and an onnxruntime-web session made from the pieces gives
 * the outputs of one made from the whole file, bit for bit, with every piece freed.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-web/wasm';
import { describe, expect, test, vi } from 'vitest';
import { externalizeWeights } from '../../src/core/onnx-external';
import { ExternalWeights, splitWeights } from '../../src/core/onnx-split';
import { hashParts } from '../../src/data/content-hash';
import { ModelFiles } from '../../src/data/model-fetch';
import { EngineSession, type BackendProbe } from '../../src/engine/ort-engine';
import { openTower } from '../../src/engine/tower-files';
import { REPO, SHARED } from '../helpers/paths';

const FIXTURES = path.join(REPO, 'tests/fixtures/models');

// Node 20 has no ArrayBuffer.prototype.transfer (Chromium 114+ has): detach the same way, by a transfer.
const proto = ArrayBuffer.prototype as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer };
proto.transfer ??= function (this: ArrayBuffer) {
  return structuredClone(this, { transfer: [this] });
};
const read = (file: string): Uint8Array<ArrayBuffer> => new Uint8Array(fs.readFileSync(file));
const gemmaVision = read(path.join(FIXTURES, 'tiny-siglip2-gemma/onnx/vision_model.onnx'));
const toyText = read(path.join(SHARED, 'models/toy-clip-cifar10/onnx/text_model.onnx'));

/** `file` as a stream of chunks of `size` bytes, each one a reused buffer as a BYOB reader hands them out. */
function chunks(file: Uint8Array, size: number): () => Promise<Uint8Array | null> {
  const staging = new Uint8Array(size);
  let at = 0;
  return () => {
    if (at >= file.byteLength) return Promise.resolve(null);
    const n = Math.min(size, file.byteLength - at);
    staging.set(file.subarray(at, at + n));
    at += n;
    return Promise.resolve(staging.subarray(0, n));
  };
}

/** The offsets and lengths a rewritten graph points into its weights file at. */
function references(graph: Uint8Array): [number, number][] {
  const text = new TextDecoder('latin1').decode(graph);
  const out: [number, number][] = [];
  for (const m of text.matchAll(/offset[\s\S]{2}(\d+)[\s\S]{4}length[\s\S]{2}(\d+)/g)) out.push([+m[1]!, +m[2]!]);
  return out;
}

describe('splitWeights', () => {
  test.each([
    ['a tiny SigLIP 2 vision tower, 1-byte chunks', gemmaVision, 1],
    ['a tiny SigLIP 2 vision tower, 7-byte chunks', gemmaVision, 7],
    ['the toy CLIP text tower, 4 KB chunks', toyText, 4096],
    ['the toy CLIP text tower, 1 MB chunks', toyText, 1 << 20],
  ])('%s: the graph externalizeWeights makes, and each weight at its offset', async (_, file, size) => {
    const split = await splitWeights(chunks(file, size), file.byteLength, 'm.onnx.weights');
    const whole = externalizeWeights(file, 'm.onnx.weights');
    expect(whole).not.toBeNull();
    expect(Buffer.from(split.graph).equals(Buffer.from(whole!))).toBe(true);
    const refs = references(whole!);
    expect(split.moved).toBe(refs.length);
    expect(refs.length).toBeGreaterThan(0);
    // Every weight the graph refers to is there, as the file's own bytes, and nothing else is held.
    let bytes = 0;
    for (const [offset, length] of refs) {
      const piece = split.weights.subarray(offset, offset + length);
      expect(Buffer.from(piece).equals(Buffer.from(file.subarray(offset, offset + length)))).toBe(true);
      bytes += length;
    }
    expect(split.weights.served).toBe(bytes);
    expect(split.weights.held).toBe(0);
    expect(split.weights.byteLength).toBe(file.byteLength);
    split.weights.release();
  });

  test('a model with nothing to move comes back as it was; bytes that are not a model are refused', async () => {
    const ext = read(path.join(FIXTURES, 'tiny-siglip2-external/onnx/vision_model.onnx'));
    const same = await splitWeights(chunks(ext, 64), ext.byteLength, 'x.weights');
    expect(same.moved).toBe(0);
    expect(Buffer.from(same.graph).equals(Buffer.from(ext))).toBe(true);
    const cut = gemmaVision.subarray(0, gemmaVision.byteLength - 7);
    await expect(splitWeights(chunks(cut, 4096), gemmaVision.byteLength, 'x.weights')).rejects.toThrow(/ends at byte/);
    const text = new TextEncoder().encode('not a model at all');
    await expect(splitWeights(chunks(text, 4096), text.byteLength, 'x.weights')).rejects.toThrow();
  });
});

describe('ExternalWeights', () => {
  test('a weight is freed at the next call; one asked for twice, or not a weight, is refused', () => {
    const w = new ExternalWeights(100);
    const [a, b] = [new Uint8Array(10).fill(1), new Uint8Array(20).fill(2)];
    w.add(0, a);
    w.add(50, b);
    expect(w.held).toBe(30);
    expect(w.subarray(0, 10)).toBe(a);
    expect(a.byteLength).toBe(10); // still there until onnxruntime has copied it
    expect(w.subarray(50, 70)).toBe(b);
    expect(a.byteLength).toBe(0); // freed (its buffer detached)
    expect(w.refused).toBe(false);
    expect(() => w.subarray(0, 10)).toThrow(/handed over already/);
    expect(w.refused).toBe(true);
    w.release();
    expect(b.byteLength).toBe(0);
    const c = new ExternalWeights(10);
    c.add(0, new Uint8Array(10));
    expect(() => c.subarray(0, 5)).toThrow(/not one weight/);
  });
});

describe('a session from the pieces (onnxruntime-web, WASM)', () => {
  ort.env.wasm.numThreads = 1;
  const feeds = () => {
    const ids = BigInt64Array.from({ length: 2 * 16 }, (_, i) => BigInt((i * 37) % 500));
    return { input_ids: new ort.Tensor('int64', ids, [2, 16]) };
  };

  test('gives the outputs of the whole file, bit for bit, and frees every weight', async () => {
    const whole = await ort.InferenceSession.create(externalizeWeights(toyText, 'w')!, {
      externalData: [{ path: 'w', data: toyText }],
    });
    const expected = (await whole.run(feeds())).text_embeds!.data as Float32Array;
    await whole.release();

    const split = await splitWeights(chunks(toyText, 1 << 16), toyText.byteLength, 'w');
    const held = split.weights.held;
    const s = await ort.InferenceSession.create(split.graph, { externalData: [{ path: 'w', data: split.weights }] });
    // onnxruntime asked for each weight once and took all of them.
    expect(split.weights.refused).toBe(false);
    expect(split.weights.served).toBe(held);
    expect(split.weights.held).toBe(0);
    split.weights.release();
    const got = (await s.run(feeds())).text_embeds!.data as Float32Array;
    await s.release();
    expect(got.length).toBe(expected.length);
    expect(Array.from(got)).toEqual(Array.from(expected));
  });
});

describe('openTower and EngineSession.createSplit (WASM, onnxruntime-web in Node)', () => {
  const probe: BackendProbe = {
    webgpu: false,
    shaderF16: false,
    adapter: null,
    crossOriginIsolated: false,
    wasmThreads: 1,
    fallbackAdapter: false,
    cores: 1,
  };
  const PATH = 'onnx/text_model.onnx';
  const folder = (bytes: Uint8Array<ArrayBuffer>) =>
    new ModelFiles({
      kind: 'files',
      id: 'toy',
      files: { [PATH]: new File([bytes], 'text_model.onnx') },
      origin: 'folder',
    });
  const changed = () => new Error('changed');

  test('a picked file is split as it is read, checked against the load hash, and the session runs', async () => {
    const hash = await hashParts([toyText]);
    const { session, from } = await openTower(folder(toyText), PATH, hash, 'wasm', probe, changed);
    expect(from).toBe('pieces');
    expect(session.outputNames).toContain('text_embeds');
    await session.dispose();
    // Another file under the same name is refused, with the caller's error.
    const other = toyText.slice();
    other[other.byteLength - 100]! ^= 1;
    await expect(openTower(folder(other), PATH, hash, 'wasm', probe, changed)).rejects.toThrow('changed');
  });

  test("with `digest` (the model worker), the split makes the manifest's SHA-256 as the file streams in", async () => {
    const files = new ModelFiles(
      { kind: 'files', id: 'toy', files: { [PATH]: new File([toyText], 'text_model.onnx') }, origin: 'folder' },
      { digest: true },
    );
    const split = await files.split(PATH, 'text_model.onnx.weights');
    expect(split?.size).toBe(toyText.byteLength);
    expect(split?.hash).toBe(await hashParts([toyText]));
    split!.weights.release();
    const reads = vi.spyOn(files, 'bytes');
    expect(await files.sha256(PATH)).toBe(createHash('sha256').update(toyText).digest('hex'));
    expect(reads).not.toHaveBeenCalled(); // not read again
    // Without `digest` nothing is made.
    const plain = await folder(toyText).split(PATH, 'text_model.onnx.weights');
    expect(plain?.sha256).toBeNull();
    plain!.weights.release();
  });

  test('a weight onnxruntime asks for twice is refused: no session, every weight freed, made whole instead', async () => {
    const split = await splitWeights(chunks(toyText, 1 << 16), toyText.byteLength, 'text_model.onnx.weights');
    // Hand one weight over before onnxruntime asks for it, as if it had been asked for already.
    const [offset, length] = references(split.graph)[0]!;
    split.weights.subarray(offset, offset + length);
    const graph = split.graph;
    expect(await EngineSession.createSplit(split, 'wasm', probe, PATH)).toBeNull();
    expect(split.weights.refused).toBe(true);
    expect(split.weights.held).toBe(0);
    expect(graph.byteLength).toBe(0); // freed too
  });
});
