/** What the app reads from a CLIP-family `config.json`, with the conventions it relies on. */

import { OPENAI_LOGIT_SCALE } from './model-family';

type Json = Record<string, unknown>;

export interface ModelConfig {
  modelType: string;
  /** Embedding size both towers should produce, when the config states it. */
  projectionDim: number | null;
  /** Multiplier applied to cosine similarities before softmax. */
  logitScale: number;
  /** Where `logitScale` came from, shown to the user. */
  logitScaleSource: 'config.logit_scale' | 'config.logit_scale_log' | 'openai-default-100';
  /** Text context length from `text_config.max_position_embeddings`, if present. */
  maxPositionEmbeddings: number | null;
}

export { OPENAI_LOGIT_SCALE };

export function parseModelConfig(json: Json): ModelConfig {
  const text = (json.text_config ?? {}) as Json;
  const proj = json.projection_dim ?? text.projection_dim;
  let logitScale = OPENAI_LOGIT_SCALE;
  let logitScaleSource: ModelConfig['logitScaleSource'] = 'openai-default-100';
  if (typeof json.logit_scale === 'number' && json.logit_scale > 0) {
    logitScale = json.logit_scale;
    logitScaleSource = 'config.logit_scale';
  } else if (typeof json.logit_scale_log === 'number') {
    logitScale = Math.exp(json.logit_scale_log);
    logitScaleSource = 'config.logit_scale_log';
  }
  return {
    modelType: typeof json.model_type === 'string' ? json.model_type : 'unknown',
    projectionDim: typeof proj === 'number' ? proj : null,
    logitScale,
    logitScaleSource,
    maxPositionEmbeddings: typeof text.max_position_embeddings === 'number' ? text.max_position_embeddings : null,
  };
}
