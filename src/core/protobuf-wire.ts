/**
 * Reading (and the varints of writing) the protobuf wire format without a schema: enough to walk an ONNX model's messages
 * (core/onnx-external.ts, core/onnx-outputs.ts) without parsing its weights.
 * https://protobuf.dev/programming-guides/encoding/
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** One field of a message: its tag, where its value starts, where the field ends. */
export interface Field {
  field: number;
  wire: number;
  start: number;
  valueStart: number;
  end: number;
}

/** The varint at `pos` and the position after it. */
export function readVarint(b: Uint8Array, pos: number): [number, number] {
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

/** The fields of the message in `b[from, to)`, in order; throws on bytes that are not a message. */
export function* fields(b: Uint8Array, from: number, to: number): Generator<Field> {
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

/** `n` as a varint's bytes. */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
