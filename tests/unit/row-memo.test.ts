import { describe, expect, it } from 'vitest';
import { RowMemo, type RunRows } from '../../workers/row-memo';
import type { EmbeddingStore } from '../../src/storage/embedding-store';
import type { WriteResult } from '../../workers/store.worker';

/** A store that records the calls the memo makes, each answered after a tick (as IndexedDB does). */
function fakeStore() {
  const calls: string[] = [];
  const store = {
    putImages: async (m: string, h: readonly string[], e: Float32Array, d: number, run?: { storedImages: number }) =>
      void calls.push(`images ${m} ${h.join(',')} [${[...e].join(',')}]/${d}${run ? ` run ${run.storedImages}` : ''}`),
    putTexts: async (m: string, t: readonly string[], e: Float32Array, d: number) =>
      void calls.push(`texts ${m} ${t.join(',')} [${[...e].join(',')}]/${d}`),
    touchModel: async (rec: { fingerprint: string; tower: string }) =>
      void calls.push(`touch ${rec.tower} ${rec.fingerprint}`),
  } as unknown as EmbeddingStore;
  let refuse = false;
  const writer = async (body: (s: EmbeddingStore) => Promise<void>): Promise<WriteResult> => {
    await new Promise((r) => setTimeout(r, 1));
    if (refuse) return { stored: false, message: 'quota' };
    await body(store);
    return { stored: true };
  };
  return { calls, writer, refuse: () => (refuse = true) };
}

const run = (over: Partial<RunRows>): RunRows => ({
  tower: 'vision',
  memo: 'm',
  hashes: ['h0', 'h1', 'h2'],
  towerKey: 'fp:webgpu',
  runBackend: 'webgpu',
  label: 'toy',
  dim: 2,
  write: true,
  record: { id: 'r', storedImages: 5 },
  ...over,
});

describe('RowMemo', () => {
  it('holds and writes image batches by seq, under the backend that made them, with the run record', async () => {
    const { calls, writer } = fakeStore();
    const memo = new RowMemo(writer);
    memo.reset('m', 'fp:webgpu', 2);
    memo.open(1, run({}));
    memo.take({ run: 1, seqs: [2, 0], embeddings: Float32Array.of(1, 2, 3, 4), backend: 'webgpu' });
    // After a GPU loss the rest comes from WASM: stored under the WASM key, which gets a model record.
    memo.take({ run: 1, seqs: [1], embeddings: Float32Array.of(5, 6), backend: 'wasm' });
    // The seqs held, in the order their rows came (the main thread has their keys).
    expect(await memo.settle(1, 3)).toEqual({ write: { stored: true }, held: Uint32Array.of(2, 0, 1) });
    expect(calls).toEqual([
      'images fp:webgpu h2,h0 [1,2,3,4]/2 run 7',
      'touch vision fp:wasm',
      'images fp:wasm h1 [5,6]/2 run 8',
    ]);
    expect([...memo.gather({ memo: 'm', keys: ['h0', 'h1', 'h2', 'h0'] })]).toEqual([3, 4, 5, 6, 1, 2, 3, 4]);
  });

  it('writes text rows as texts, and holds them in their own memo', async () => {
    const { calls, writer } = fakeStore();
    const memo = new RowMemo(writer);
    memo.reset('m:text', 'tfp:wasm', 2);
    memo.open(
      2,
      run({
        tower: 'text',
        memo: 'm:text',
        hashes: ['a cat', 'a dog'],
        towerKey: 'tfp:wasm',
        runBackend: 'wasm',
        record: null,
      }),
    );
    memo.take({ run: 2, seqs: [0, 1], embeddings: Float32Array.of(1, 0, 0, 1), backend: 'wasm' });
    expect(await memo.settle(2, 2)).toEqual({ write: { stored: true }, held: Uint32Array.of(0, 1) });
    expect(calls).toEqual(['texts tfp:wasm a cat,a dog [1,0,0,1]/2']);
    expect([...memo.gather({ memo: 'm:text', keys: ['a dog'] })]).toEqual([0, 1]);
  });

  it('settles only once the counted rows have arrived (they travel on another port), and reports a refused write', async () => {
    const { writer, refuse } = fakeStore();
    const memo = new RowMemo(writer);
    memo.reset('m', 'fp:webgpu', 2);
    memo.open(3, run({}));
    let settled: WriteResult | null = null;
    const p = memo.settle(3, 2).then((r) => (settled = r.write));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBeNull();
    refuse();
    memo.take({ run: 3, seqs: [0, 1], embeddings: Float32Array.of(1, 2, 3, 4), backend: 'webgpu' });
    await p;
    expect(settled).toEqual({ stored: false, message: 'quota' });
    // The rows are held in memory even though IndexedDB refused them.
    expect([...memo.gather({ memo: 'm', keys: ['h1'] })]).toEqual([3, 4]);
  });

  it('memory only when writing is off; batches of closed runs and rows for a replaced memo are dropped', async () => {
    const { calls, writer } = fakeStore();
    const memo = new RowMemo(writer);
    memo.reset('m', 'fp:webgpu', 2);
    memo.open(4, run({ write: false }));
    memo.take({ run: 4, seqs: [0], embeddings: Float32Array.of(1, 2), backend: 'webgpu' });
    // A batch that arrives after the run settled is dropped: not held, not written, not in `held`.
    expect((await memo.settle(4, 1)).held).toEqual(Uint32Array.of(0));
    memo.take({ run: 4, seqs: [1], embeddings: Float32Array.of(3, 4), backend: 'webgpu' });
    expect(calls).toEqual([]);
    expect(() => memo.gather({ memo: 'm', keys: ['h1'] })).toThrow(/no row for h1/);
    memo.reset('m', 'other:wasm', 2);
    memo.hold('m', 'fp:webgpu', ['h9'], Float32Array.of(9, 9));
    expect(() => memo.gather({ memo: 'm', keys: ['h9'] })).toThrow(/no row for h9/);
    expect(() => memo.gather({ memo: 'nope', keys: [] })).toThrow(/No embeddings are held/);
  });

  it('sizes the memo for a run’s new rows when the run opens (rows held and repeats counted once)', () => {
    const memo = new RowMemo(fakeStore().writer);
    memo.reset('m', 'fp:webgpu', 2);
    memo.hold('m', 'fp:webgpu', ['h0'], Float32Array.of(1, 2));
    const fresh = Array.from({ length: 2000 }, (_, i) => `n${i}`);
    expect(memo.heldBytes('m')).toBe(1024 * 2 * 4); // the default room
    memo.open(5, run({ hashes: ['h0', ...fresh, 'n0'] }));
    expect(memo.heldBytes('m')).toBe((1 + 2000) * 2 * 4);
    // A run for another tower key does not size a memo it will not fill.
    memo.reset('m', 'other:wasm', 2);
    memo.open(6, run({ hashes: fresh }));
    expect(memo.heldBytes('m')).toBe(1024 * 2 * 4);
  });
});
