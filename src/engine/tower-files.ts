/**
 * A model's tower files and outputs: fetching a tower with its external-data shards, picking the
 * family's embedding output among the graph's, reading it as float32, and choosing the weight variant.
 */
import { halfToFloat32 } from '../core/float16';
import { WorkbenchError } from '../data/errors';
import type { ModelFiles, ProgressFn } from '../data/model-fetch';
import { onnxPath, externalDataPath, type Dtype } from '../data/model-files';
import { hashParts } from '../data/content-hash';
import { free } from '../core/onnx-split';
import {
  EngineSession,
  weightsLocation,
  type Backend,
  type BackendProbe,
  type ExternalData,
  type HostTensor,
} from './ort-engine';

export type DtypeChoice = 'auto' | Dtype;

/** The family's embedding output for a tower, among the graph's outputs. */
export function pickOutput(preferred: readonly string[], names: readonly string[], file: string): string {
  const found = preferred.find((n) => names.includes(n));
  if (!found) {
    throw new WorkbenchError(
      'model-file-corrupt',
      `${file} has no ${preferred.join(' or ')} output (it has: ${names.join(', ')}). ` +
        'Use the tower files with projection, as in the transformers.js layout.',
      file,
    );
  }
  return found;
}

/** A tower's ONNX file and its external-data shards (`.onnx_data`, `_1`, … while they exist). */
export interface TowerFiles {
  path: string;
  bytes: Uint8Array;
  externalData: ExternalData[];
}

export async function fetchTower(
  files: ModelFiles,
  path: string,
  onProgress: ProgressFn,
  signal?: AbortSignal,
): Promise<TowerFiles> {
  const bytes = await files.bytes(path, onProgress, signal);
  const externalData: ExternalData[] = [];
  for (let k = 0; await files.has(externalDataPath(path, k)); k++) {
    const shard = externalDataPath(path, k);
    // The graph names its data file without the folder (`vision_model.onnx_data`).
    externalData.push({ path: shard.split('/').pop()!, data: await files.bytes(shard, onProgress, signal) });
  }
  return { path, bytes, externalData };
}

/**
 * A session from a tower file read again after the load, checked against the load's `hash` (`changed`: the
 * error when it is not that file). On WASM the file is split as it is read (core/onnx-split.ts), each
 * weight in a buffer of its own that is freed once onnxruntime has copied it: the first text after a
 * 10,000-image B/32 run peaked at 1.6 GB with the text tower's file read whole first (issue 12). Read whole
 * (`from: 'file'`) on WebGPU, with external-data shards, where it cannot be streamed (not in the download
 * cache) or when onnxruntime asks for a weight twice.
 */
export async function openTower(
  files: ModelFiles,
  path: string,
  hash: string,
  backend: Backend,
  probe: BackendProbe,
  changed: () => Error,
): Promise<{ session: EngineSession; from: 'pieces' | 'file' }> {
  if (backend === 'wasm' && !(await files.has(externalDataPath(path, 0)))) {
    const split = await files.split(path, weightsLocation(path));
    if (split && split.hash !== hash) {
      split.weights.release();
      throw changed();
    }
    const session = split ? await EngineSession.createSplit(split, probe, path) : null;
    if (session) return { session, from: 'pieces' };
  }
  const f = await fetchTower(files, path, () => {});
  try {
    if ((await hashParts([f.bytes, ...f.externalData.map((e) => e.data)])) !== hash) throw changed();
    return { session: await EngineSession.create(f.bytes, backend, probe, f.path, f.externalData), from: 'file' };
  } finally {
    releaseTower(f);
  }
}

/**
 * Free a tower's bytes (and its shards') now that its session holds the weights. Dropping the references
 * is not enough: the model worker sits idle after a load, nothing there allocates, no GC comes, and a B/32
 * pair's 580 MB stayed resident through a whole run (issue 12). Detaching a buffer that only this worker's
 * JS holds (ModelFiles.bytes makes such buffers) frees its store at once (`ArrayBuffer.prototype.transfer`,
 * ES2024: Chromium 114, Firefox 122, Safari 17.4; without it the GC frees them later).
 */
export function releaseTower(f: TowerFiles): void {
  for (const b of [f.bytes, ...f.externalData.map((e) => e.data)]) free(b);
}

export function toFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return new Float32Array(t.data); // own copy: transferable later
  if (t.type === 'float16' && t.data instanceof Uint16Array) return halfToFloat32(t.data);
  throw new WorkbenchError('internal', `Unexpected output type ${t.type}.`);
}

/** The weight variant to load: the one asked for, else fp16 on a shader-f16 GPU, else fp32. */
export function chooseDtype(choice: DtypeChoice, available: Dtype[], backend: Backend, probe: BackendProbe): Dtype {
  if (choice !== 'auto') {
    if (!available.includes(choice)) {
      throw new WorkbenchError(
        'model-file-missing',
        `${onnxPath('vision', choice)} / ${onnxPath('text', choice)} are not in this model (it has: ${available.join(', ')}).`,
        onnxPath('vision', choice),
      );
    }
    return choice;
  }
  if (backend === 'webgpu' && probe.shaderF16 && available.includes('fp16')) return 'fp16';
  return available.includes('fp32') ? 'fp32' : available[0]!;
}
