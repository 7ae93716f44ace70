/**
 * The outputs an ONNX model's graph declares, with their shapes, read from the file without making a
 * session: what the WASM load needs to know of the text tower, whose session waits for the first text
 * (engine/text-tower.ts).
 *
 * Field numbers from https://github.com/onnx/onnx/blob/main/onnx/onnx.proto: ModelProto.graph = 7,
 * GraphProto.output = 12, ValueInfoProto.name = 1 / .type = 2, TypeProto.tensor_type = 1,
 * TypeProto.Tensor.shape = 2, TensorShapeProto.dim = 1, Dimension.dim_value = 1 / .dim_param = 2.
 */

import { fields, readVarint, WIRE_LEN, WIRE_VARINT } from './protobuf-wire';

const MODEL_GRAPH = 7;
const GRAPH_OUTPUT = 12;

/** A dimension: its size, the name of a symbolic one (`batch_size`), or null when the file says neither. */
export type Dim = number | string | null;

export interface GraphOutput {
  name: string;
  /** Null when the output declares no shape. */
  dims: Dim[] | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The length-delimited field `field` of the message in `b[from, to)`, or null. */
function sub(b: Uint8Array, from: number, to: number, field: number): [number, number] | null {
  let found: [number, number] | null = null;
  for (const f of fields(b, from, to)) if (f.field === field && f.wire === WIRE_LEN) found = [f.valueStart, f.end];
  return found;
}

function readDim(b: Uint8Array, from: number, to: number): Dim {
  let dim: Dim = null;
  for (const f of fields(b, from, to)) {
    if (f.field === 1 && f.wire === WIRE_VARINT) dim = readVarint(b, f.valueStart)[0];
    else if (f.field === 2 && f.wire === WIRE_LEN) dim = utf8.decode(b.subarray(f.valueStart, f.end));
  }
  return dim;
}

function readOutput(b: Uint8Array, from: number, to: number): GraphOutput {
  const name = sub(b, from, to, 1);
  const type = sub(b, from, to, 2);
  const tensor = type && sub(b, type[0], type[1], 1);
  const shape = tensor && sub(b, tensor[0], tensor[1], 2);
  let dims: Dim[] | null = null;
  if (shape) {
    dims = [];
    for (const f of fields(b, shape[0], shape[1])) {
      if (f.field === 1 && f.wire === WIRE_LEN) dims.push(readDim(b, f.valueStart, f.end));
    }
  }
  return { name: name ? utf8.decode(b.subarray(name[0], name[1])) : '', dims };
}

/**
 * The main graph's outputs, in order. Throws when `model` is not a serialized ModelProto with a graph
 * that declares outputs. Only the graph's own fields are walked: the weights are skipped over, not read.
 */
export function graphOutputs(model: Uint8Array): GraphOutput[] {
  const graph = sub(model, 0, model.length, MODEL_GRAPH);
  if (!graph) throw new Error('no graph in the file');
  const outputs: GraphOutput[] = [];
  for (const f of fields(model, graph[0], graph[1])) {
    if (f.field === GRAPH_OUTPUT && f.wire === WIRE_LEN) outputs.push(readOutput(model, f.valueStart, f.end));
  }
  if (outputs.length === 0) throw new Error('the graph declares no outputs');
  return outputs;
}
