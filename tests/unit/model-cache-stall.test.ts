/**
 * A cached model file whose read stalls (no bytes for the stall limit; headless Chromium 156 now and then
 * left a Cache Storage body read pending for good, see CACHE_STALL_MS in src/data/model-fetch.ts) is
 * downloaded instead of hanging the load, and the stalled copy is dropped (the next load stores it again),
 * whether it was read whole or split as it was read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test, vi } from 'vitest';
import { ModelFiles } from '../../src/data/model-fetch';
import { urlSource } from '../../src/data/model-files';
import { SHARED } from '../helpers/paths';

afterEach(() => {
  vi.unstubAllGlobals();
});

const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 256);

test('a cached copy that stops delivering bytes is dropped and the file downloaded', async () => {
  const puts: string[] = [];
  const deleted: string[] = [];
  let cancelled = false;
  // One chunk, then nothing: the read waits on a pull that never settles.
  const stuck = () =>
    new ReadableStream<Uint8Array>({
      type: 'bytes',
      start(c) {
        c.enqueue(bytes.slice(0, 1000));
      },
      pull: () => new Promise<void>(() => undefined),
      cancel: () => {
        cancelled = true;
      },
    });
  const cache = {
    match: (url: string) =>
      Promise.resolve(
        url.endsWith('vision_model.onnx')
          ? new Response(stuck(), { headers: { 'content-length': String(bytes.byteLength) } })
          : undefined,
      ),
    put: async (url: string, res: Response) => {
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
      puts.push(url);
    },
    delete: (url: string) => {
      deleted.push(url);
      return Promise.resolve(true);
    },
  };
  vi.stubGlobal('caches', { open: () => Promise.resolve(cache) });
  const fetched: string[] = [];
  vi.stubGlobal('fetch', (url: string) => {
    fetched.push(url);
    return Promise.resolve(new Response(bytes, { headers: { 'content-length': String(bytes.byteLength) } }));
  });

  const files = new ModelFiles(urlSource('http://127.0.0.1:1/m/', 'server', 'm'), { stallMs: 100 });
  const t0 = performance.now();
  expect(await files.bytes('onnx/vision_model.onnx')).toEqual(bytes);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
  expect(cancelled).toBe(true);
  expect(fetched).toEqual(['http://127.0.0.1:1/m/onnx/vision_model.onnx']);
  expect(deleted).toEqual(['http://127.0.0.1:1/m/onnx/vision_model.onnx']);
  expect(puts).toEqual([]);
});

test('a slow cached copy that keeps delivering is read from the cache', async () => {
  let sent = 0;
  const slow = new ReadableStream<Uint8Array>({
    type: 'bytes',
    async pull(c) {
      await new Promise((r) => setTimeout(r, 40)); // each chunk within the 100 ms limit, 240 ms in all
      c.enqueue(bytes.slice(sent, sent + 500));
      sent += 500;
      if (sent >= bytes.byteLength) c.close();
    },
  });
  const cache = {
    match: () => Promise.resolve(new Response(slow, { headers: { 'content-length': String(bytes.byteLength) } })),
    put: () => Promise.reject(new Error('no write expected')),
    delete: () => Promise.reject(new Error('no delete expected')),
  };
  vi.stubGlobal('caches', { open: () => Promise.resolve(cache) });
  vi.stubGlobal('fetch', () => Promise.reject(new Error('no download expected')));
  const files = new ModelFiles(urlSource('http://127.0.0.1:1/m/', 'server', 'm'), { stallMs: 100 });
  expect(await files.bytes('onnx/vision_model.onnx')).toEqual(bytes);
});

test('a split read (the load on WASM) that stalls on a cached copy drops it: the whole read then downloads at once', async () => {
  // A real ONNX file, so that the split parses what came before the stall.
  const onnx = new Uint8Array(fs.readFileSync(path.join(SHARED, 'models/toy-clip-cifar10/onnx/text_model.onnx')));
  const deleted: string[] = [];
  let stored: Uint8Array | null = null;
  const stuck = () =>
    new ReadableStream<Uint8Array>({
      type: 'bytes',
      start(c) {
        c.enqueue(onnx.slice(0, 100_000));
      },
      pull: () => new Promise<void>(() => undefined),
    });
  const cache = {
    match: () =>
      Promise.resolve(
        deleted.length || stored
          ? undefined
          : new Response(stuck(), { headers: { 'content-length': String(onnx.byteLength) } }),
      ),
    put: async (_: string, res: Response) => {
      stored = new Uint8Array(await res.arrayBuffer());
    },
    delete: (url: string) => {
      deleted.push(url);
      return Promise.resolve(true);
    },
  };
  vi.stubGlobal('caches', { open: () => Promise.resolve(cache) });
  vi.stubGlobal('fetch', () =>
    Promise.resolve(new Response(onnx, { headers: { 'content-length': String(onnx.byteLength) } })),
  );
  const files = new ModelFiles(urlSource('http://127.0.0.1:1/m/', 'server', 'm'), { stallMs: 100 });
  expect(await files.split('onnx/vision_model.onnx', 'vision_model.onnx.weights')).toBeNull();
  expect(deleted).toEqual(['http://127.0.0.1:1/m/onnx/vision_model.onnx']);
  // The whole read finds no cached copy to stall on again: it downloads, and stores the file.
  const same = (b: Uint8Array | null) => b !== null && Buffer.from(b).equals(onnx);
  expect(same(await files.bytes('onnx/vision_model.onnx'))).toBe(true);
  expect(same(stored)).toBe(true);
});
