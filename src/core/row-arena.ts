/**
 * Embeddings held in memory as one flat N×dim Float32Array (rows in arrival order, addressed by key):
 * the cache worker's copy of every image embedding a run has read or made, from which the analysis
 * side takes the run's matrix in one copy. Growth doubles the buffer, so appending n rows costs O(n).
 */
export class RowArena {
  private data: Float32Array;
  private rowOf = new Map<string, number>();

  constructor(
    readonly dim: number,
    capacityRows = 1024,
  ) {
    this.data = new Float32Array(Math.max(1, capacityRows) * dim);
  }

  get size(): number {
    return this.rowOf.size;
  }

  /** Bytes the buffer holds (capacity, not just the rows in use). */
  get bytes(): number {
    return this.data.byteLength;
  }

  has(key: string): boolean {
    return this.rowOf.has(key);
  }

  /** Copy rows of `packed` (keys.length×dim) in; a key already held is overwritten in place. */
  put(keys: readonly string[], packed: Float32Array): void {
    const { dim } = this;
    if (packed.length !== keys.length * dim) {
      throw new RangeError(`RowArena.put: ${keys.length} keys but ${packed.length / dim} rows of ${dim}`);
    }
    keys.forEach((k, i) => {
      let r = this.rowOf.get(k);
      if (r === undefined) {
        r = this.rowOf.size;
        this.reserve(r + 1);
        this.rowOf.set(k, r);
      }
      this.data.set(packed.subarray(i * dim, (i + 1) * dim), r * dim);
    });
  }

  /** The rows of `keys`, packed keys.length×dim in that order (a new buffer); throws naming a missing key. */
  gather(keys: readonly string[]): Float32Array {
    const { dim } = this;
    const out = new Float32Array(keys.length * dim);
    keys.forEach((k, i) => {
      const r = this.rowOf.get(k);
      if (r === undefined) throw new RangeError(`RowArena.gather: no row for ${k}`);
      out.set(this.data.subarray(r * dim, (r + 1) * dim), i * dim);
    });
    return out;
  }

  /**
   * Room for `rows` rows in all, exactly: a run that knows how many rows it brings takes them in one
   * allocation instead of doubling (10,000 B/32 rows: 19.5 MiB, not 32 MiB plus the copy from 16).
   */
  ensure(rows: number): void {
    if (rows * this.dim <= this.data.length) return;
    const grown = new Float32Array(rows * this.dim);
    grown.set(this.data);
    this.data = grown;
  }

  private reserve(rows: number): void {
    if (rows * this.dim <= this.data.length) return;
    let cap = this.data.length / this.dim;
    while (cap < rows) cap *= 2;
    const grown = new Float32Array(cap * this.dim);
    grown.set(this.data);
    this.data = grown;
  }
}
