/**
 * The Hugging Face / transformers.js file layout of a CLIP-family model, and the serializable
 * description of where a model's files come from (sent to the worker as is).
 */

/**
 * Weight variants transformers.js publishes, by its file-name suffix convention: fp32 has none, `_fp16`,
 * `_quantized` (q8, dynamic int8 weights), `_int8`, `_uint8`, `_q4`, `_q4f16` (4-bit weights, fp16
 * activations), `_bnb4` (bitsandbytes NF4 layout).
 */
export type Dtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';
export type Tower = 'text' | 'vision';

export const DTYPES: readonly Dtype[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'];

const DTYPE_SUFFIX: Record<Dtype, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

/** `onnx/text_model_fp16.onnx` and the like. */
export function onnxPath(tower: Tower, dtype: Dtype): string {
  return `onnx/${tower}_model${DTYPE_SUFFIX[dtype]}.onnx`;
}

/**
 * ONNX external data of a model over 2 GB (protobuf's limit), as transformers.js exports it:
 * `<file>.onnx_data`, then `<file>.onnx_data_1`, `_2`, … The k-th shard's path.
 */
export function externalDataPath(onnxFile: string, k: number): string {
  return k === 0 ? `${onnxFile}_data` : `${onnxFile}_data_${k}`;
}

/** A dtype both towers have, with the bytes to download (both towers, external data included). */
export interface DtypeOption {
  dtype: Dtype;
  bytes: number | null;
}

/** The combined graph some repos ship instead of split towers (not usable here: see ClipModel.load). */
export const COMBINED_ONNX = 'onnx/model.onnx';

/** JSON files every model needs; the tokenizer's extra files are optional. */
export const REQUIRED_JSON = ['config.json', 'preprocessor_config.json', 'tokenizer.json'] as const;
export const OPTIONAL_JSON = ['tokenizer_config.json', 'special_tokens_map.json'] as const;

export const EXPECTED_FILES_TEXT =
  'config.json, preprocessor_config.json, tokenizer.json (+ tokenizer_config.json, special_tokens_map.json), ' +
  'onnx/text_model{,_fp16,_quantized,_int8,_uint8,_q4,_q4f16,_bnb4}.onnx and the same for onnx/vision_model';

/** Where a model's files are read from. Plain data: it is cloned into the worker. */
export type ModelSource =
  | {
      kind: 'url';
      /** Shown to the user and recorded in results: a Hub id, or the base URL. */
      id: string;
      /** Base URL ending in '/': a file's URL is `baseUrl + path`. */
      baseUrl: string;
      origin: 'hub' | 'server' | 'url';
    }
  | {
      kind: 'files';
      id: string;
      /** Files keyed by their path relative to the model folder (`onnx/text_model.onnx`). */
      files: Record<string, File>;
      origin: 'folder';
    };

export const DEFAULT_HUB_BASE = 'https://huggingface.co';

/** The Hub's file URL layout: `<hub>/<org>/<name>/resolve/main/<file>`. */
export function hubSource(modelId: string, hubBase = DEFAULT_HUB_BASE): ModelSource {
  const base = hubBase.replace(/\/+$/, '');
  return { kind: 'url', id: modelId, baseUrl: `${base}/${modelId}/resolve/main/`, origin: 'hub' };
}

export function urlSource(baseUrl: string, origin: 'server' | 'url' = 'url', id = baseUrl): ModelSource {
  return { kind: 'url', id, baseUrl: baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, origin };
}

/**
 * Files picked or dropped as a folder carry paths like `my-model/onnx/vision_model.onnx`. Strip the
 * prefix before the shallowest `config.json` so paths are relative to the model folder.
 */
export function folderSource(entries: { path: string; file: File }[]): ModelSource {
  const configs = entries
    .map((e) => e.path.replace(/^\/+/, ''))
    .filter((p) => p === 'config.json' || p.endsWith('/config.json'))
    .sort((a, b) => a.split('/').length - b.split('/').length);
  const prefix = configs[0] ? configs[0].slice(0, -'config.json'.length) : '';
  const files: Record<string, File> = {};
  for (const { path, file } of entries) {
    const p = path.replace(/^\/+/, '');
    if (p.startsWith(prefix)) files[p.slice(prefix.length)] = file;
  }
  const name = prefix.replace(/\/$/, '').split('/').pop() || 'local model';
  return { kind: 'files', id: name, files, origin: 'folder' };
}

export { DEFAULT_PRESET } from '../core/model-presets';
