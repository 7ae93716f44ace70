/**
 * The model families the app knows, as data: which ONNX output is the embedding, how text is tokenized
 * and padded, and how cosine similarities become probabilities. One table, read by the engine, the
 * analysis worker and the UI — no `if (siglip)` branches elsewhere. Preprocessing is not here: it comes
 * from each model's own `preprocessor_config.json` (see core/preprocess), which already says bicubic or
 * bilinear, crop or squash, normalize or not.
 */

import { outputSize, type PreprocessConfig } from './preprocess';
import { RESAMPLE_NAMES } from './pil-resize';

type Json = Record<string, unknown>;

export type FamilyId = 'clip' | 'mobileclip' | 'siglip' | 'siglip2' | 'jina-clip' | 'unknown';

/** How a text becomes token ids. */
export interface TokenRule {
  /**
   * 'longest': pad each batch to its longest row (causal CLIP towers pool at the end token, so padding
   * does not change the embedding). 'max-length': pad every row to exactly the context length, because
   * the tower is bidirectional and pools the last position (SigLIP): padding is part of the input.
   */
  padTo: 'longest' | 'max-length';
  /** Context length when neither tokenizer_config.json nor config.json states one. */
  defaultContextLength: number;
  /**
   * Text clean-up before the tokenizer, as the Python tokenizer does it: 'siglip' = Hugging Face's
   * SiglipTokenizer.canonicalize_text (lower-case when asked, punctuation removed, whitespace collapsed).
   */
  canonicalize: 'none' | 'siglip';
  /** Append the end token when the tokenizer's post-processor did not (SigLIP's `</s>`). */
  ensureEndToken: boolean;
  /** Which special token pads: read from the tokenizer files, or a fixed id the family documents. */
  pad: 'tokenizer' | { id: number };
  /** Human wording for the model card. */
  describe: string;
}

export type ScoringKind = 'softmax' | 'sigmoid';

export interface FamilyRules {
  id: FamilyId;
  label: string;
  /** Output names holding the embedding, in order of preference, per tower. */
  outputs: { text: string[]; vision: string[] };
  tokenization: TokenRule;
  /**
   * softmax(scale · cos) over the labels (CLIP, trained with the contrastive loss), or an independent
   * sigmoid(scale · cos + bias) per label (SigLIP, trained with the pairwise sigmoid loss).
   */
  scoring: ScoringKind;
  /** Scale to use when config.json has none; null = it must come from elsewhere (table or the user). */
  defaultLogitScale: number | null;
}

/**
 * OpenAI CLIP's trained logit scale is exp(4.6052) = 100. Hugging Face configs only carry
 * `logit_scale_init_value` (the *initial* value, 2.6592 → 14.3), which is never used here.
 */
export const OPENAI_LOGIT_SCALE = 100;

const CLIP_TOKENS: TokenRule = {
  padTo: 'longest',
  defaultContextLength: 77,
  canonicalize: 'none',
  ensureEndToken: false,
  pad: 'tokenizer',
  describe: 'CLIP BPE, start/end tokens, ≤ 77 tokens (end token kept), padded to the batch',
};

export const FAMILIES: Readonly<Record<FamilyId, FamilyRules>> = {
  clip: {
    id: 'clip',
    label: 'OpenAI CLIP',
    outputs: { text: ['text_embeds'], vision: ['image_embeds'] },
    tokenization: CLIP_TOKENS,
    scoring: 'softmax',
    defaultLogitScale: OPENAI_LOGIT_SCALE,
  },
  mobileclip: {
    id: 'mobileclip',
    label: 'MobileCLIP',
    outputs: { text: ['text_embeds'], vision: ['image_embeds'] },
    tokenization: CLIP_TOKENS,
    scoring: 'softmax',
    // The Xenova exports' config.json is only {"model_type": "clip"}: no trained scale travels with them,
    // so CLIP's 100 is used and labelled "family default" on the model card.
    defaultLogitScale: OPENAI_LOGIT_SCALE,
  },
  siglip: {
    id: 'siglip',
    label: 'SigLIP',
    outputs: { text: ['pooler_output', 'text_embeds'], vision: ['pooler_output', 'image_embeds'] },
    tokenization: {
      padTo: 'max-length',
      defaultContextLength: 64,
      canonicalize: 'siglip',
      ensureEndToken: true,
      pad: 'tokenizer',
      describe: 'SentencePiece, lower-cased, punctuation removed, </s> appended, padded to exactly 64',
    },
    scoring: 'sigmoid',
    defaultLogitScale: null,
  },
  siglip2: {
    id: 'siglip2',
    label: 'SigLIP 2',
    outputs: { text: ['pooler_output', 'text_embeds'], vision: ['pooler_output', 'image_embeds'] },
    tokenization: {
      padTo: 'max-length',
      defaultContextLength: 64,
      canonicalize: 'none',
      ensureEndToken: false,
      pad: { id: 0 },
      describe: 'Gemma tokenizer, padded with <pad> (id 0) to exactly 64',
    },
    scoring: 'sigmoid',
    defaultLogitScale: null,
  },
  'jina-clip': {
    id: 'jina-clip',
    label: 'Jina CLIP',
    outputs: { text: ['text_embeds', 'pooler_output'], vision: ['image_embeds', 'pooler_output'] },
    tokenization: {
      padTo: 'longest',
      defaultContextLength: 512,
      canonicalize: 'none',
      ensureEndToken: false,
      pad: 'tokenizer',
      describe: 'BERT WordPiece, [CLS]/[SEP], attention mask, padded to the batch',
    },
    scoring: 'softmax',
    defaultLogitScale: OPENAI_LOGIT_SCALE,
  },
  unknown: {
    id: 'unknown',
    label: 'Unknown family (CLIP rules)',
    outputs: { text: ['text_embeds', 'pooler_output'], vision: ['image_embeds', 'pooler_output'] },
    tokenization: CLIP_TOKENS,
    scoring: 'softmax',
    defaultLogitScale: OPENAI_LOGIT_SCALE,
  },
};

export interface FamilyChoice {
  rules: FamilyRules;
  /** Why this family was chosen, for the model card. */
  reason: string;
  /** True when the app did not recognise the model and fell back to CLIP rules. */
  flagged: boolean;
}

/** The files that decide a family; `modelId` is the Hub id or folder name (used only as a hint). */
export interface FamilyEvidence {
  config: Json;
  preprocessor: Json;
  tokenizerConfig: Json;
  tokenizerJson?: Json;
  modelId: string;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Choose the family from `config.json`'s `model_type`, then the tokenizer class and files present. */
export function detectFamily(ev: FamilyEvidence): FamilyChoice {
  const type = str(ev.config.model_type);
  const tokClass = str(ev.tokenizerConfig.tokenizer_class);
  const id = ev.modelId.toLowerCase();
  const pick = (f: FamilyId, reason: string, flagged = false): FamilyChoice => ({
    rules: FAMILIES[f],
    reason,
    flagged,
  });
  if (type === 'siglip2' || type === 'siglip2_vision_model') return pick('siglip2', `model_type "${type}"`);
  if (type === 'siglip' || type === 'siglip_vision_model' || type === 'siglip_text_model') {
    // SigLIP 2 FixRes exports keep model_type "siglip"; their Gemma tokenizer tells them apart.
    if (/gemma/i.test(tokClass)) return pick('siglip2', `model_type "${type}" with ${tokClass}`);
    if (id.includes('siglip2')) return pick('siglip2', `model_type "${type}", id names SigLIP 2`);
    return pick('siglip', `model_type "${type}"`);
  }
  if (type === 'jina_clip' || id.includes('jina-clip')) return pick('jina-clip', `model_type "${type || 'none'}"`);
  if (type === 'clip') {
    const minimal = ev.config.text_config === undefined && ev.config.vision_config === undefined;
    if (id.includes('mobileclip')) return pick('mobileclip', 'model_type "clip", id names MobileCLIP');
    if (minimal && ev.preprocessor.do_normalize === false) {
      return pick(
        'mobileclip',
        'model_type "clip" with a minimal config.json and no normalisation (MobileCLIP export)',
      );
    }
    return pick('clip', 'model_type "clip"');
  }
  return pick('unknown', `model_type "${type || 'missing'}" is not one the app knows; CLIP rules were tried`, true);
}

/** Where a scoring scalar came from, shown beside it. */
export type ScalarSource =
  | 'config.logit_scale'
  | 'config.logit_scale_log'
  | 'config.logit_bias'
  | 'known-model-table'
  | 'user'
  | 'family-default'
  | 'none';

export interface Scoring {
  kind: ScoringKind;
  /** Multiplier on cosine; null when unknown (probabilities are then not available). */
  scale: number | null;
  scaleSource: ScalarSource;
  /** Added after scaling (sigmoid scoring only); null when unknown. */
  bias: number | null;
  biasSource: ScalarSource;
  /** A citation when a value came from the known-model table. */
  citation: string | null;
}

interface KnownScalars {
  scale?: number;
  bias?: number;
  citation: string;
}

/**
 * Trained scalars of exports whose split tower files and config carry none. Only values with a public
 * source are listed. Keys are lower-case Hub ids.
 */
export const KNOWN_SCALARS: Readonly<Record<string, KnownScalars>> = {
  // open_clip issue #746 (G. Ilharco, 2023-11-27): the ViT-SO400M-14-SigLIP-384 WebLI checkpoint has
  // logit_scale = 4.7215 (log), checked against big_vision's SigLIP demo; exp(4.7215) = 112.33.
  'google/siglip-so400m-patch14-384': {
    scale: Math.exp(4.7215),
    citation: 'open_clip issue #746: logit_scale 4.7215 (log) for ViT-SO400M-14-SigLIP-384, checked against big_vision',
  },
};

/** User-entered values win; then config.json; then the known table; then the family's default. */
export function resolveScoring(
  rules: FamilyRules,
  config: Json,
  modelId: string,
  user: { scale?: number | null; bias?: number | null } = {},
): Scoring {
  const known = KNOWN_SCALARS[modelId.toLowerCase()];
  let scale: number | null = null;
  let scaleSource: ScalarSource = 'none';
  let citation: string | null = null;
  if (typeof config.logit_scale === 'number' && config.logit_scale > 0) {
    scale = config.logit_scale;
    scaleSource = 'config.logit_scale';
  } else if (typeof config.logit_scale_log === 'number') {
    scale = Math.exp(config.logit_scale_log);
    scaleSource = 'config.logit_scale_log';
  } else if (known?.scale !== undefined) {
    scale = known.scale;
    scaleSource = 'known-model-table';
    citation = known.citation;
  } else if (rules.defaultLogitScale !== null) {
    scale = rules.defaultLogitScale;
    scaleSource = 'family-default';
  }
  let bias: number | null = null;
  let biasSource: ScalarSource = 'none';
  if (rules.scoring === 'sigmoid') {
    if (typeof config.logit_bias === 'number') {
      bias = config.logit_bias;
      biasSource = 'config.logit_bias';
    } else if (known?.bias !== undefined) {
      bias = known.bias;
      biasSource = 'known-model-table';
      citation = known.citation;
    }
  }
  return withUserScalars({ kind: rules.scoring, scale, scaleSource, bias, biasSource, citation }, user);
}

/** `s` with the values a user typed (finite numbers only) taking precedence, labelled as theirs. */
export function withUserScalars(s: Scoring, user: { scale?: number | null; bias?: number | null }): Scoring {
  const out = { ...s };
  if (typeof user.scale === 'number' && Number.isFinite(user.scale) && user.scale > 0) {
    out.scale = user.scale;
    out.scaleSource = 'user';
  }
  if (s.kind === 'sigmoid' && typeof user.bias === 'number' && Number.isFinite(user.bias)) {
    out.bias = user.bias;
    out.biasSource = 'user';
  }
  return out;
}

/** True when the scoring can turn cosines into probabilities. */
export function hasProbabilities(s: Scoring): boolean {
  return s.scale !== null && (s.kind === 'softmax' || s.bias !== null);
}

const SOURCE_WORDS: Record<ScalarSource, string> = {
  'config.logit_scale': 'config.json',
  'config.logit_scale_log': 'config.json (log)',
  'config.logit_bias': 'config.json',
  'known-model-table': 'published value',
  user: 'entered by you',
  'family-default': 'family default',
  none: 'unknown',
};

/** "sigmoid(8.42 · cos − 4.56); scale entered by you, bias entered by you" and the like. */
export function describeScoring(s: Scoring): string {
  const scale = s.scale === null ? 'scale' : s.scale.toFixed(2);
  if (s.kind === 'softmax') {
    return `softmax(${scale} · cos) over the labels; scale: ${SOURCE_WORDS[s.scaleSource]}`;
  }
  const bias = s.bias === null ? ' + bias' : s.bias < 0 ? ` − ${(-s.bias).toFixed(2)}` : ` + ${s.bias.toFixed(2)}`;
  return (
    `sigmoid(${scale} · cos${bias}) per label; scale: ${SOURCE_WORDS[s.scaleSource]}, ` +
    `bias: ${SOURCE_WORDS[s.biasSource]}`
  );
}

/**
 * SiglipTokenizer.canonicalize_text: Python's `string.punctuation` removed, runs of whitespace collapsed
 * to one space, stripped; lower-cased first when the tokenizer config says `do_lower_case`.
 */
export function canonicalizeSiglip(text: string, lowerCase: boolean): string {
  const t = lowerCase ? text.toLowerCase() : text;
  return t
    .replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** "SigLIP: sigmoid scores, text padded to 64, 224×224 squash, bicubic" — what the model card shows. */
export function describeRules(
  label: string,
  scoring: Scoring,
  fixedLength: number | null,
  contextLength: number,
  pre: PreprocessConfig,
): string {
  const scores = scoring.kind === 'sigmoid' ? 'sigmoid scores' : 'softmax scores';
  const text =
    fixedLength !== null ? `text padded to ${fixedLength}` : `text ≤ ${contextLength} tokens, padded to the batch`;
  const o = outputSize(pre);
  const geometry = !pre.doResize
    ? `${o.width}×${o.height}, no resize`
    : pre.resizeTo
      ? `${pre.resizeTo.width}×${pre.resizeTo.height} squash`
      : `shortest edge ${pre.shortestEdgePx}${pre.doCenterCrop ? `, ${o.width}×${o.height} crop` : ''}`;
  const filter = RESAMPLE_NAMES[pre.resample] ?? `filter ${pre.resample}`;
  const norm = pre.doNormalize ? '' : ', no normalisation';
  return `${label}: ${scores}, ${text}, ${geometry}, ${filter}${norm}`;
}
