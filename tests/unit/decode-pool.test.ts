/**
 * The decode pool's size (src/state/decode-pool.ts `poolSize`): a worker per core up to 4 on WASM; on
 * WebGPU, where the cores do little else, half of them up to 8, never fewer than WASM's; `?decodeWorkers=N`
 * overrides both.
 */
import { afterEach, expect, test, vi } from 'vitest';
import { poolSize } from '../../src/state/decode-pool';

afterEach(() => {
  vi.unstubAllGlobals();
});

test.each([
  [1, 1, 1],
  [2, 2, 2],
  [4, 4, 4],
  [8, 4, 4],
  [12, 4, 6],
  [16, 4, 8],
  [64, 4, 8],
])('%i cores: %i decode workers on WASM, %i on WebGPU', (cores, wasm, webgpu) => {
  vi.stubGlobal('navigator', { hardwareConcurrency: cores });
  expect(poolSize('wasm')).toBe(wasm);
  expect(poolSize('webgpu')).toBe(webgpu);
});

test('the page URL’s ?decodeWorkers=N sets the size on both backends (at most 16)', () => {
  vi.stubGlobal('navigator', { hardwareConcurrency: 16 });
  vi.stubGlobal('location', { search: '?mode=retrieve&decodeWorkers=3' });
  expect([poolSize('wasm'), poolSize('webgpu')]).toEqual([3, 3]);
  vi.stubGlobal('location', { search: '?decodeWorkers=40' });
  expect(poolSize('webgpu')).toBe(16);
  vi.stubGlobal('location', { search: '?decodeWorkers=two' });
  expect(poolSize('webgpu')).toBe(8);
});
