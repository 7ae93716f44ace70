/**
 * An ONNX model split while it is read: the graph as `externalizeWeights` (onnx-external.ts) would rewrite
 * it, and each weight it moved in a buffer of its own. onnxruntime-web copies a WASM session's external data
 * into its heap one initializer at a time (`subarray` of the mounted data, then a copy); from one buffer, the
 * whole file stays in JS until the session exists: on the first text after a 10,000-image B/32 run, the text
 * tower's 254 MB beside the heap's growth for the same weights put the browser at 1.6 GB (issue 12). From
 * pieces, each is freed once copied, so the weights in JS and their copy in the heap never add up.
 */

import {
  GRAPH_INITIALIZER,
  MIN_EXTERNAL_BYTES,
  MODEL_GRAPH,
  TENSOR_DATA_LOCATION,
  TENSOR_EXTERNAL_DATA,
  TENSOR_RAW_DATA,
  WIRE_I32,
  WIRE_I64,
  WIRE_LEN,
  WIRE_VARINT,
  externalFields,
  lenField,
} from './onnx-external';
import { concatArrays } from './vector';

/**
 * A model file's weights as onnxruntime-web's mounted external data: a `Uint8Array` (what its `/wasm` build
 * requires) of the file's length that holds only the moved weights, one buffer each. `subarray` answers
 * with a weight's own buffer; a weight is freed at the next call (onnxruntime copies it in between, in the
 * same synchronous call) or at `release()`. A range handed out before, or not a weight, is refused: `refused`
 * is then set and onnxruntime fails the session, which the caller makes again from the whole file.
 */
export class ExternalWeights extends Uint8Array {
  readonly #size: number;
  readonly #pieces = new Map<number, Uint8Array<ArrayBuffer>>();
  #lastServed: Uint8Array<ArrayBuffer> | null = null;
  /** Bytes handed over so far, and whether a range was asked for that this could not give. */
  served = 0;
  refused = false;

  constructor(size: number) {
    super(0);
    this.#size = size;
  }

  /** `data`: the bytes at `offset` of the file, in a buffer only this object references. */
  add(offset: number, data: Uint8Array<ArrayBuffer>): void {
    this.#pieces.set(offset, data);
  }

  /** Bytes held now (weights not yet handed over). */
  get held(): number {
    let n = 0;
    for (const p of this.#pieces.values()) n += p.byteLength;
    return n;
  }

  override get byteLength(): number {
    return this.#size;
  }

  override get length(): number {
    return this.#size;
  }

  override subarray(begin = 0, end = this.#size): Uint8Array<ArrayBuffer> {
    if (this.#lastServed) free(this.#lastServed);
    this.#lastServed = null;
    const piece = this.#pieces.get(begin);
    if (!piece || piece.byteLength !== end - begin) {
      this.refused = true;
      throw new Error(`bytes ${begin}–${end} are not one weight of this file, or were handed over already`);
    }
    this.#pieces.delete(begin);
    this.#lastServed = piece;
    this.served += piece.byteLength;
    return piece;
  }

  /** Free every weight still held (after the session is made, or when it failed). */
  release(): void {
    if (this.#lastServed) free(this.#lastServed);
    this.#lastServed = null;
    for (const p of this.#pieces.values()) free(p);
    this.#pieces.clear();
  }
}

/**
 * Free a buffer's store now: the model worker sits idle after a load and no GC may come for a whole run
 * (tower-files.ts, releaseTower). `ArrayBuffer.prototype.transfer` is ES2024; without it the GC frees it later.
 */
export function free(b: Uint8Array): void {
  const buf = b.buffer as ArrayBufferLike & { detached?: boolean; transfer?: (length: number) => ArrayBuffer };
  if (!buf.detached) buf.transfer?.(0); // a detached one (freed, or moved to another worker) is left alone
}

/** A stream's bytes, pulled as the parser needs them; `pos` counts the bytes consumed. */
class Cursor {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  pos = 0;

  /** `next`: the stream's next chunk, null at its end. A chunk is used up before the next is asked for. */
  constructor(private readonly next: () => Promise<Uint8Array | null>) {}

  private async more(): Promise<void> {
    for (;;) {
      const c = await this.next();
      if (c === null) throw new Error(`the file ends at byte ${this.pos}, inside a field`);
      if (c.byteLength > 0) {
        this.chunk = c;
        this.at = 0;
        return;
      }
    }
  }

  /** A varint; its bytes are appended to `raw`. */
  async varint(raw: number[]): Promise<number> {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.at >= this.chunk.byteLength) await this.more();
      const x = this.chunk[this.at++]!;
      this.pos++;
      raw.push(x);
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 128;
      if (mul > 2 ** 63) throw new Error('varint too long');
    }
  }

  /** The next `into.byteLength` bytes, copied into `into`. */
  async read<T extends Uint8Array>(into: T): Promise<T> {
    let done = 0;
    while (done < into.byteLength) {
      if (this.at >= this.chunk.byteLength) await this.more();
      const k = Math.min(into.byteLength - done, this.chunk.byteLength - this.at);
      into.set(this.chunk.subarray(this.at, this.at + k), done);
      this.at += k;
      this.pos += k;
      done += k;
    }
    return into;
  }
}

/** One field: its header bytes (tag, and length for LEN), its number and wire type, its value's length. */
interface Head {
  raw: number[];
  field: number;
  wire: number;
}

async function head(cur: Cursor): Promise<Head> {
  const raw: number[] = [];
  const tag = await cur.varint(raw);
  return { raw, field: Math.floor(tag / 8), wire: tag & 7 };
}

/** The rest of a field after its tag (length and value included), as bytes; it must end by `limit`. */
async function rest(cur: Cursor, h: Head, limit: number): Promise<Uint8Array[]> {
  if (h.wire === WIRE_VARINT) {
    const raw: number[] = [];
    await cur.varint(raw);
    return [Uint8Array.from(raw)];
  }
  if (h.wire === WIRE_I64 || h.wire === WIRE_I32) return [await cur.read(new Uint8Array(h.wire === WIRE_I64 ? 8 : 4))];
  if (h.wire !== WIRE_LEN) throw new Error(`unsupported wire type ${h.wire}`);
  const raw: number[] = [];
  const len = await cur.varint(raw);
  if (cur.pos + len > limit) throw new Error('a field runs past its message');
  return [Uint8Array.from(raw), await cur.read(new Uint8Array(len))];
}

/**
 * A TensorProto of `len` bytes: its fields with raw_data replaced by a reference into `location` (the weight
 * goes to `weights`), or its bytes as they were when it stays inline (see externalizeWeights).
 */
async function tensor(
  cur: Cursor,
  len: number,
  location: string,
  weights: ExternalWeights,
): Promise<{ moved: boolean; parts: Uint8Array[] }> {
  const end = cur.pos + len;
  const kept: Uint8Array[] = [];
  let raw: { at: number; head: Uint8Array[]; offset: number; data: Uint8Array<ArrayBuffer> } | null = null;
  let inline = false;
  while (cur.pos < end) {
    const h = await head(cur);
    if (h.field === TENSOR_DATA_LOCATION || h.field === TENSOR_EXTERNAL_DATA) inline = true;
    if (h.field === TENSOR_RAW_DATA && h.wire === WIRE_LEN) {
      const lenRaw: number[] = [];
      const n = await cur.varint(lenRaw);
      const offset = cur.pos;
      if (offset + n > end) throw new Error('a field runs past its tensor');
      const data = await cur.read(new Uint8Array(n));
      // A second raw_data wins (as in protobuf); the first stays inline, as externalizeWeights leaves it.
      raw = { at: kept.length, head: [Uint8Array.from([...h.raw, ...lenRaw])], offset, data };
      kept.push(...raw.head, data);
      continue;
    }
    kept.push(Uint8Array.from(h.raw), ...(await rest(cur, h, end)));
  }
  if (cur.pos !== end) throw new Error('a field runs past its tensor');
  if (!raw || inline || raw.data.byteLength < MIN_EXTERNAL_BYTES) return { moved: false, parts: kept };
  weights.add(raw.offset, raw.data);
  const parts = [...kept.slice(0, raw.at), ...kept.slice(raw.at + 2)];
  return { moved: true, parts: [...parts, ...externalFields(location, raw.offset, raw.data.byteLength)] };
}

/**
 * A model file of `size` bytes, read from `next` (its chunks in order, each used up before the next is
 * asked for), split as `externalizeWeights(file, location)` would rewrite it: `graph` is that function's
 * result, byte for byte, and `weights` holds each weight it moved at its offset. When nothing moved, `graph`
 * is the file itself and `weights` is empty. Throws when the bytes do not parse as a ModelProto.
 */
export async function splitWeights(
  next: () => Promise<Uint8Array | null>,
  size: number,
  location: string,
): Promise<{ graph: Uint8Array<ArrayBuffer>; weights: ExternalWeights; moved: number }> {
  const cur = new Cursor(next);
  const weights = new ExternalWeights(size);
  const out: Uint8Array[] = [];
  let moved = 0;
  try {
    while (cur.pos < size) {
      const h = await head(cur);
      if (h.field !== MODEL_GRAPH || h.wire !== WIRE_LEN) {
        out.push(Uint8Array.from(h.raw), ...(await rest(cur, h, size)));
        continue;
      }
      const graphRaw: number[] = [];
      const graphLen = await cur.varint(graphRaw);
      const end = cur.pos + graphLen;
      if (end > size) throw new Error('the graph runs past the end of the file');
      const graph: Uint8Array[] = [];
      while (cur.pos < end) {
        const g = await head(cur);
        if (g.field !== GRAPH_INITIALIZER || g.wire !== WIRE_LEN) {
          graph.push(Uint8Array.from(g.raw), ...(await rest(cur, g, end)));
          continue;
        }
        const lenRaw: number[] = [];
        const len = await cur.varint(lenRaw);
        if (cur.pos + len > end) throw new Error('an initializer runs past the graph');
        const t = await tensor(cur, len, location, weights);
        if (t.moved) moved++;
        graph.push(
          ...(t.moved ? lenField(GRAPH_INITIALIZER, t.parts) : [Uint8Array.from([...g.raw, ...lenRaw]), ...t.parts]),
        );
      }
      if (cur.pos !== end) throw new Error('a field runs past the graph');
      out.push(...(moved > 0 ? lenField(MODEL_GRAPH, graph) : [Uint8Array.from([...h.raw, ...graphRaw]), ...graph]));
    }
    if (cur.pos !== size) throw new Error('a field runs past the end of the file');
  } catch (e) {
    weights.release();
    throw e;
  }
  return { graph: concatArrays(out, (n) => new Uint8Array(n)), weights, moved };
}
