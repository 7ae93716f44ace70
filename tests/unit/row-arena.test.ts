import { describe, expect, it } from 'vitest';
import { RowArena } from '../../src/core/row-arena';

const rows = (...vals: number[][]) => Float32Array.from(vals.flat());

describe('RowArena', () => {
  it('gathers rows in the asked order, across growth of the buffer', () => {
    const a = new RowArena(2, 1);
    a.put(['x'], rows([1, 2]));
    a.put(['y', 'z'], rows([3, 4], [5, 6]));
    a.put(['w'], rows([7, 8]));
    expect(a.size).toBe(4);
    expect(a.bytes).toBe(4 * 2 * 4); // capacity 1 → 2 → 4 rows
    expect([...a.gather(['z', 'x', 'w', 'y'])]).toEqual([5, 6, 1, 2, 7, 8, 3, 4]);
    expect([...a.gather([])]).toEqual([]);
  });

  it('ensure sizes the buffer exactly for rows announced ahead, keeps the rows held, and never shrinks', () => {
    const a = new RowArena(2, 1);
    a.put(['x'], rows([1, 2]));
    a.ensure(5);
    expect(a.bytes).toBe(5 * 2 * 4);
    a.put(['y', 'z', 'w', 'v'], rows([3, 4], [5, 6], [7, 8], [9, 10]));
    expect(a.bytes).toBe(5 * 2 * 4); // the announced rows fit: no doubling
    a.ensure(3);
    expect(a.bytes).toBe(5 * 2 * 4);
    a.put(['u'], rows([11, 12]));
    expect(a.bytes).toBe(10 * 2 * 4); // past the announced rows, growth doubles again
    expect([...a.gather(['x', 'v', 'u'])]).toEqual([1, 2, 9, 10, 11, 12]);
  });

  it('overwrites a key it holds instead of adding a row', () => {
    const a = new RowArena(3);
    a.put(['k', 'm'], rows([1, 1, 1], [2, 2, 2]));
    a.put(['k'], rows([9, 9, 9]));
    expect(a.size).toBe(2);
    expect([...a.gather(['k', 'm'])]).toEqual([9, 9, 9, 2, 2, 2]);
  });

  it('gives copies: changing a gathered matrix leaves the held rows alone', () => {
    const a = new RowArena(1);
    a.put(['k'], rows([5]));
    a.gather(['k'])[0] = 0;
    expect(a.gather(['k'])[0]).toBe(5);
  });

  it('names a missing key and refuses rows of the wrong size', () => {
    const a = new RowArena(2);
    a.put(['k'], rows([1, 2]));
    expect(() => a.gather(['k', 'nope'])).toThrow(/no row for nope/);
    expect(() => a.put(['a', 'b'], rows([1, 2]))).toThrow(/2 keys but 1 rows of 2/);
    expect(a.has('k')).toBe(true);
    expect(a.has('a')).toBe(false);
  });
});
