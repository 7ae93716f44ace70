/**
 * A model's tower files and outputs: fetching a tower with its external-data shards, picking the
 * family's embedding output among the graph's, reading it as float32, and choosing the weight variant.
 */
import { halfToFloat32 } from '../core/float16';
import { WorkbenchError } from '../data/errors';
import type { ModelFiles, ProgressFn } from '../data/model-fetch';
import { onnxPath, externalDataPath, type Dtype } from '../data/model-files';
import type { Backend, BackendProbe, ExternalData, HostTensor } from './ort-engine';

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
 * Free a tower's bytes (and its shards') now that its session holds the weights. Dropping the references
 * is not enough: the model worker sits idle after a load, nothing there allocates, no GC comes, and a B/32
 * pair's 580 MB stayed resident through a whole run (issue 12). Detaching a buffer that only this worker's
 * JS holds (ModelFiles.bytes makes such buffers) frees its store at once (`ArrayBuffer.prototype.transfer`,
 * ES2024: Chromium 114, Firefox 122, Safari 17.4; without it the GC frees them later).
 */
export function releaseTower(f: TowerFiles): void {
  for (const b of [f.bytes, ...f.externalData.map((e) => e.data)]) {
    const buf = b.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
    buf.transfer?.(0);
  }
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
