/** The flag that keeps decode workers out of the WASM runtime's way (src/engine/runtime-gate.ts). */
import { expect, test } from 'vitest';
import { gateDecoding, RuntimeGate } from '../../src/engine/runtime-gate';

test('decoding waits for the runtime only on WASM, with more busy threads than cores', () => {
  // 2 cores: 2 WASM threads and 2 decode workers (the pool's size there) share them.
  expect(gateDecoding('wasm', 2, 2, 2)).toBe(true);
  expect(gateDecoding('wasm', 4, 4, 4)).toBe(true);
  // 8 cores: 4 threads and 4 decode workers each have one.
  expect(gateDecoding('wasm', 4, 4, 8)).toBe(false);
  // The GPU runs the model: decoding overlaps it.
  expect(gateDecoding('webgpu', 2, 2, 2)).toBe(false);
  // One WASM thread (no cross-origin isolation): nothing to stall.
  expect(gateDecoding('wasm', 1, 2, 2)).toBe(false);
});

test('whenFree resolves at once when the runtime is idle, and only after leave() when it is busy', async () => {
  const buffer = new SharedArrayBuffer(4);
  const model = new RuntimeGate(buffer);
  const decoder = new RuntimeGate(buffer);
  await decoder.whenFree();
  model.enter();
  expect(decoder.busy()).toBe(true);
  let freed = false;
  const waiting = decoder.whenFree().then(() => (freed = true));
  await new Promise((r) => setTimeout(r, 30));
  expect(freed).toBe(false);
  model.leave();
  await waiting;
  expect(freed).toBe(true);
  expect(decoder.busy()).toBe(false);
});

test('without cross-origin isolation there is no flag', () => {
  expect(globalThis.crossOriginIsolated).not.toBe(true);
  expect(RuntimeGate.allocate()).toBeNull();
});
