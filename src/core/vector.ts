/** Small numeric helpers on flat row-major matrices (Float32Array, n×dim). */

/** L2-normalize each row of an n×dim matrix in place; zero rows stay zero. Returns the same array. */
export function normalizeRows(m: Float32Array, dim: number): Float32Array {
  for (let off = 0; off < m.length; off += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (m[off + j] as number) ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) m[off + j] = (m[off + j] as number) * inv;
  }
  return m;
}

/** Cosine similarity of two vectors of equal length. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * Similarity matrix A·Bᵀ for unit rows (so it is cosine): A is na×dim, B is nb×dim; result na×nb.
 */
export function matmulT(a: Float32Array, b: Float32Array, dim: number): Float32Array {
  const na = a.length / dim;
  const nb = b.length / dim;
  const out = new Float32Array(na * nb);
  for (let i = 0; i < na; i++) {
    const ra = a.subarray(i * dim, (i + 1) * dim);
    for (let k = 0; k < nb; k++) {
      const rb = b.subarray(k * dim, (k + 1) * dim);
      let s = 0;
      for (let j = 0; j < dim; j++) s += (ra[j] as number) * (rb[j] as number);
      out[i * nb + k] = s;
    }
  }
  return out;
}

/** Softmax of `logits × scale`, numerically stable. */
export function softmax(logits: ArrayLike<number>, scale = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, (logits[i] as number) * scale);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] as number) * scale - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** `parts` joined end to end into one new array of their type (Float32Array or Uint8Array). */
export function concatArrays<T extends Float32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>>(
  parts: readonly (Float32Array | Uint8Array)[],
  make: (length: number) => T,
): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
