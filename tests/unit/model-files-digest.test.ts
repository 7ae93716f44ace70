/**
 * A model's file hashes for run manifests: remembered from the load when the reader digests (the
 * model worker's), so a run never reads a model file again; else read and hashed on request. Both
 * equal node's SHA-256 of the same bytes.
 */
import crypto from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ModelFiles } from '../../src/data/model-fetch';
import type { ModelSource } from '../../src/data/model-files';

const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251);
const expected = crypto.createHash('sha256').update(bytes).digest('hex');

/** A picked-folder source whose File counts its reads. */
function source(): { src: ModelSource; reads: () => number } {
  let reads = 0;
  const file = new File([bytes], 'vision_model.onnx');
  const counted = new Proxy(file, {
    get(target, prop) {
      if (prop === 'arrayBuffer' || prop === 'stream') reads++;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const src: ModelSource = { kind: 'files', id: 'm', files: { 'onnx/vision_model.onnx': counted }, origin: 'folder' };
  return { src, reads: () => reads };
}

describe('ModelFiles.sha256', () => {
  test('with digest: hashed as bytes() returns the file, not read again', async () => {
    const { src, reads } = source();
    const files = new ModelFiles(src, { digest: true });
    expect((await files.bytes('onnx/vision_model.onnx')).byteLength).toBe(bytes.byteLength);
    expect(reads()).toBe(1);
    expect(await files.sha256('onnx/vision_model.onnx')).toBe(expected);
    expect(reads()).toBe(1);
  });

  test('without digest: read and hashed on request', async () => {
    const { src, reads } = source();
    const files = new ModelFiles(src);
    expect(await files.sha256('onnx/vision_model.onnx')).toBe(expected);
    expect(reads()).toBe(1);
  });
});
