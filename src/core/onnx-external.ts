/**
 * An ONNX model's weights as external data that point back into the model file itself, so onnxruntime
 * reads each initializer straight into its tensor. Loaded from one buffer, onnxruntime-web holds the
 * file's bytes, the parsed protobuf's copy of every weight and the tensors at once: a WASM heap, which
 * never shrinks, 2× a tower's weights above what it keeps (issue 12). Rewritten, the graph it parses is a
 * few hundred KB and the file is mounted as the external-data file: no weight is copied twice.
 *
 * Protobuf wire format: https://protobuf.dev/programming-guides/encoding/ ; field numbers from
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto (ModelProto.graph = 7, GraphProto.initializer = 5,
 * TensorProto.raw_data = 9, .external_data = 13, .data_location = 14 with EXTERNAL = 1).
 */

import { concatArrays } from './vector';

export const MODEL_GRAPH = 7;
export const GRAPH_INITIALIZER = 5;
export const TENSOR_RAW_DATA = 9;
export const TENSOR_EXTERNAL_DATA = 13;
export const TENSOR_DATA_LOCATION = 14;
export const LOCATION_EXTERNAL = 1;
export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** Initializers smaller than this stay inline (biases, scalars): moving them saves nothing. */
export const MIN_EXTERNAL_BYTES = 1024;

/** One field of a message: its tag, where its value starts, where the field ends. */
interface Field {
  field: number;
  wire: number;
  start: number;
  valueStart: number;
  end: number;
}

function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= b.length) throw new Error('truncated varint');
    const x = b[pos++]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos];
    mul *= 128;
    if (mul > 2 ** 63) throw new Error('varint too long');
  }
}

function* fields(b: Uint8Array, from: number, to: number): Generator<Field> {
  let pos = from;
  while (pos < to) {
    const start = pos;
    const [tag, p] = readVarint(b, pos);
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    let valueStart = p;
    let end: number;
    if (wire === WIRE_VARINT) end = readVarint(b, p)[1];
    else if (wire === WIRE_I64) end = p + 8;
    else if (wire === WIRE_I32) end = p + 4;
    else if (wire === WIRE_LEN) {
      const [len, q] = readVarint(b, p);
      valueStart = q;
      end = q + len;
    } else throw new Error(`unsupported wire type ${wire}`);
    if (end > to) throw new Error('field runs past its message');
    yield { field, wire, start, valueStart, end };
    pos = end;
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const utf8 = new TextEncoder();

/** A length-delimited field: tag, length, then the parts. */
export function lenField(field: number, parts: Uint8Array[]): Uint8Array[] {
  const len = parts.reduce((n, p) => n + p.length, 0);
  return [Uint8Array.from([...varint(field * 8 + WIRE_LEN), ...varint(len)]), ...parts];
}

function entry(key: string, value: string): Uint8Array[] {
  return lenField(TENSOR_EXTERNAL_DATA, [...lenField(1, [utf8.encode(key)]), ...lenField(2, [utf8.encode(value)])]);
}

/** A TensorProto with its raw_data replaced by a reference to the same bytes in `location`; null to keep it. */
function externalTensor(b: Uint8Array, from: number, to: number, location: string): Uint8Array[] | null {
  let raw: Field | null = null;
  for (const f of fields(b, from, to)) {
    if (f.field === TENSOR_DATA_LOCATION || f.field === TENSOR_EXTERNAL_DATA) return null;
    if (f.field === TENSOR_RAW_DATA && f.wire === WIRE_LEN) raw = f;
  }
  if (!raw || raw.end - raw.valueStart < MIN_EXTERNAL_BYTES) return null;
  return [
    b.subarray(from, raw.start),
    b.subarray(raw.end, to),
    ...externalFields(location, raw.valueStart, raw.end - raw.valueStart),
  ];
}

/** The fields that make a TensorProto (its raw_data removed) read `length` bytes at `offset` of `location`. */
export function externalFields(location: string, offset: number, length: number): Uint8Array[] {
  return [
    ...entry('location', location),
    ...entry('offset', String(offset)),
    ...entry('length', String(length)),
    Uint8Array.from([TENSOR_DATA_LOCATION * 8 + WIRE_VARINT, LOCATION_EXTERNAL]),
  ];
}

/**
 * The model (a serialized ModelProto) with every main-graph initializer of at least MIN_EXTERNAL_BYTES
 * stored in `raw_data` turned into external data at its own offset in `model`: load the result with
 * `model` itself mounted as `location`. Null when nothing would move (or `model` does not parse).
 */
export function externalizeWeights(model: Uint8Array, location: string): Uint8Array<ArrayBuffer> | null {
  try {
    const out: Uint8Array[] = [];
    let moved = 0;
    for (const f of fields(model, 0, model.length)) {
      if (f.field !== MODEL_GRAPH || f.wire !== WIRE_LEN) {
        out.push(model.subarray(f.start, f.end));
        continue;
      }
      const graph: Uint8Array[] = [];
      for (const g of fields(model, f.valueStart, f.end)) {
        const t =
          g.field === GRAPH_INITIALIZER && g.wire === WIRE_LEN
            ? externalTensor(model, g.valueStart, g.end, location)
            : null;
        if (t) moved++;
        graph.push(...(t ? lenField(GRAPH_INITIALIZER, t) : [model.subarray(g.start, g.end)]));
      }
      out.push(...lenField(MODEL_GRAPH, graph));
    }
    return moved > 0 ? concatArrays(out, (n) => new Uint8Array(n)) : null;
  } catch {
    return null;
  }
}
