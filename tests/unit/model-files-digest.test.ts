/**
 * A model's file hashes for run manifests: remembered from the load when the reader digests (the
 * model worker's), so a run never reads a model file again; else read and hashed on request. Both
 * equal node's SHA-256 of the same bytes. And the content hash Auto keys its decision by (`hash`), made
 * as the file streams in: equal to `hashParts` of the whole file from every source.
 */
import crypto from 'node:crypto';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { hashParts } from '../../src/data/content-hash';
import { ModelFiles } from '../../src/data/model-fetch';
import { urlSource, type ModelSource } from '../../src/data/model-files';

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

describe('ModelFiles.hash', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  const PATH = 'onnx/vision_model.onnx';
  const response = () => new Response(bytes, { headers: { 'content-length': String(bytes.byteLength) } });

  test('a picked file: streamed once, never read whole, equal to hashParts of the whole file', async () => {
    const { src, reads } = source();
    const files = new ModelFiles(src);
    const whole = vi.spyOn(files, 'bytes');
    expect(await files.hash(PATH)).toBe(await hashParts([bytes]));
    expect(reads()).toBe(1);
    expect(whole).not.toHaveBeenCalled();
  });

  test('from the download cache: streamed, no request; not cached yet: downloaded, cached, then hashed', async () => {
    const stored = new Map<string, Response>();
    const fetched: string[] = [];
    vi.stubGlobal('caches', {
      open: () =>
        Promise.resolve({
          match: (url: string) => Promise.resolve(stored.get(url)),
          put: (url: string, res: Response) => {
            stored.set(url, res);
            return Promise.resolve();
          },
          delete: () => Promise.resolve(true),
        }),
    });
    vi.stubGlobal('fetch', (url: string) => {
      fetched.push(url);
      return Promise.resolve(response());
    });
    const files = new ModelFiles(urlSource('http://127.0.0.1:1/m/', 'server', 'm'));
    const expected = await hashParts([bytes]);
    expect(await files.hash(PATH)).toBe(expected);
    expect(fetched).toEqual(['http://127.0.0.1:1/m/onnx/vision_model.onnx']);
    expect(stored.has(fetched[0]!)).toBe(true);
    const whole = vi.spyOn(files, 'bytes');
    expect(await files.hash(PATH)).toBe(expected);
    expect(fetched).toHaveLength(1);
    expect(whole).not.toHaveBeenCalled();
  });
});

describe('ModelFiles.cacheDownload (the load on WASM, before it splits the file from the cache)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  const URL = 'http://127.0.0.1:1/m/onnx/vision_model.onnx';

  /** A download cache that takes files, or refuses them as a full quota does; counts downloads. */
  function stub(refuse: boolean) {
    const stored = new Map<string, Response>();
    let downloads = 0;
    vi.stubGlobal('caches', {
      open: () =>
        Promise.resolve({
          match: (url: string) => Promise.resolve(stored.get(url)),
          put: (url: string, res: Response) => {
            if (refuse) return Promise.reject(new DOMException('quota', 'QuotaExceededError'));
            stored.set(url, res);
            return Promise.resolve();
          },
          delete: () => Promise.resolve(true),
        }),
    });
    vi.stubGlobal('fetch', () => {
      downloads++;
      return Promise.resolve(new Response(bytes, { headers: { 'content-length': String(bytes.byteLength) } }));
    });
    return { stored, downloads: () => downloads };
  }

  test('not cached: downloaded into the cache, bytes let go; cached already, or a picked folder: nothing to do', async () => {
    const s = stub(false);
    const files = new ModelFiles(urlSource('http://127.0.0.1:1/m/', 'server', 'm'));
    expect(await files.cacheDownload('onnx/vision_model.onnx', () => {})).toBe('cached');
    expect(s.stored.has(URL)).toBe(true);
    expect(await files.cacheDownload('onnx/vision_model.onnx', () => {})).toBeNull();
    expect(s.downloads()).toBe(1);
    expect(await new ModelFiles(source().src).cacheDownload('onnx/vision_model.onnx', () => {})).toBeNull();
  });

  test('a cache that will not take the file (full quota): its bytes come back, downloaded once', async () => {
    const s = stub(true);
    const files = new ModelFiles(urlSource('http://127.0.0.1:1/m/', 'server', 'm'));
    const got = await files.cacheDownload('onnx/vision_model.onnx', () => {});
    expect(got instanceof Uint8Array && Buffer.from(got).equals(bytes)).toBe(true);
    expect(s.downloads()).toBe(1);
  });
});
