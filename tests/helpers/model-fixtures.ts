/**
 * Broken model folders made on the fly from the shared models (nothing large is committed):
 * each is a copy of a good model with one thing wrong; and ONNX files rewritten at the protobuf level.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODELS } from './paths';
import { fields, varint, WIRE_LEN } from '../../src/core/protobuf-wire';

export function copyModel(from: string, to: string): void {
  fs.cpSync(path.join(MODELS, from), to, {
    recursive: true,
    filter: (src) => !src.includes(`${path.sep}reference`),
  });
  // The shared folder is read-only; the copies must be writable to be broken and removed.
  fs.chmodSync(to, 0o755);
  for (const f of fs.readdirSync(to, { recursive: true }) as string[]) fs.chmodSync(path.join(to, f), 0o755);
}

/**
 * A folder of model folders: good (tiny), no-tokenizer, corrupt-vision, corrupt-text, mismatched-towers,
 * bad-json.
 */
export function makeBrokenModels(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-models-'));
  copyModel('tiny-random-clip', path.join(root, 'tiny-random-clip'));

  copyModel('tiny-random-clip', path.join(root, 'no-tokenizer'));
  fs.rmSync(path.join(root, 'no-tokenizer/tokenizer.json'));

  copyModel('tiny-random-clip', path.join(root, 'corrupt-vision'));
  fs.writeFileSync(path.join(root, 'corrupt-vision/onnx/vision_model.onnx'), Buffer.from('this is not an onnx file'));

  copyModel('tiny-random-clip', path.join(root, 'corrupt-text'));
  fs.writeFileSync(path.join(root, 'corrupt-text/onnx/text_model.onnx'), Buffer.from('this is not an onnx file'));

  // Text tower of the tiny model (16-d) with the vision tower of the toy model (64-d).
  copyModel('tiny-random-clip', path.join(root, 'mismatched-towers'));
  fs.copyFileSync(
    path.join(MODELS, 'toy-clip-cifar10/onnx/vision_model.onnx'),
    path.join(root, 'mismatched-towers/onnx/vision_model.onnx'),
  );
  fs.writeFileSync(path.join(root, 'mismatched-towers/config.json'), '{"model_type":"clip"}');

  copyModel('tiny-random-clip', path.join(root, 'bad-json'));
  fs.writeFileSync(path.join(root, 'bad-json/preprocessor_config.json'), '{ "size": ');
  return root;
}

/** A length-delimited protobuf field. */
function lenField(field: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from([field * 8 + WIRE_LEN, ...varint(body.length)]), body]);
}

/**
 * Rewrite the length-delimited fields along `path` (field numbers from the outermost message in),
 * replacing each one found at the end of the path with `edit(body)`; every other byte is kept.
 */
function rewrite(b: Uint8Array, from: number, to: number, path: number[], edit: (body: Uint8Array) => Uint8Array) {
  const parts: Uint8Array[] = [];
  for (const f of fields(b, from, to)) {
    if (f.field !== path[0] || f.wire !== WIRE_LEN) parts.push(b.subarray(f.start, f.end));
    else if (path.length === 1) parts.push(lenField(f.field, edit(b.subarray(f.valueStart, f.end))));
    else parts.push(lenField(f.field, rewrite(b, f.valueStart, f.end, path.slice(1), edit)));
  }
  return Buffer.concat(parts);
}

/**
 * The model with every dimension of its graph's outputs replaced by `dim(k)` (k counts them in order): a
 * number is written as its `dim_value`, a string as its `dim_param`.
 * ModelProto.graph = 7 → GraphProto.output = 12 → ValueInfoProto.type = 2 → TypeProto.tensor_type = 1 →
 * .shape = 2 → TensorShapeProto.dim = 1 (Dimension.dim_value = 1, .dim_param = 2).
 */
export function rewriteOutputDims(model: Uint8Array, dim: (k: number) => number | string): Uint8Array {
  let k = 0;
  return rewrite(model, 0, model.length, [7, 12, 2, 1, 2, 1], () => {
    const d = dim(k++);
    return typeof d === 'string' ? lenField(2, new TextEncoder().encode(d)) : Uint8Array.from([0x08, ...varint(d)]);
  });
}

/** The model with its outputs' sizes named only symbolically ("d0", "d1", …), as an export without shape inference leaves them. */
export function hideOutputSizes(model: Uint8Array): Uint8Array {
  return rewriteOutputDims(model, (k) => `d${k}`);
}
