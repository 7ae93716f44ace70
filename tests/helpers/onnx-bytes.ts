/**
 * A tiny ONNX model written byte by byte (protobuf wire format, no dependency): one node of an
 * operator no backend implements, for the "operator the backend cannot run" fault.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (num: number, wire: number) => varint((num << 3) | wire);
const int = (num: number, v: number) => [...field(num, 0), ...varint(v)];
const bytes = (num: number, b: number[]) => [...field(num, 2), ...varint(b.length), ...b];
const str = (num: number, s: string) => bytes(num, [...new TextEncoder().encode(s)]);

/** float32 tensor type with the given dims (a string is a symbolic dim). */
function tensorType(dims: (number | string)[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  return bytes(1, [...int(1, 1), ...bytes(2, shape)]);
}
const valueInfo = (name: string, dims: (number | string)[]) => [...str(1, name), ...bytes(2, tensorType(dims))];

/** A vision tower whose single node is `domain:opType`, which no execution provider has. */
export function unsupportedOpModel(opType = 'ZswUnknownOp', domain = 'com.zsw.test'): Uint8Array {
  const node = [
    ...str(1, 'pixel_values'),
    ...str(2, 'image_embeds'),
    ...str(3, 'n0'),
    ...str(4, opType),
    ...str(7, domain),
  ];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'unsupported'),
    ...bytes(11, valueInfo('pixel_values', ['batch', 3, 224, 224])),
    ...bytes(12, valueInfo('image_embeds', ['batch', 16])),
  ];
  const model = [
    ...int(1, 8),
    ...str(2, 'zsw-test'),
    ...bytes(7, graph),
    ...bytes(8, [...str(1, ''), ...int(2, 17)]),
    ...bytes(8, [...str(1, domain), ...int(2, 1)]),
  ];
  return new Uint8Array(model);
}
