/**
 * Tokenization glue over `@huggingface/tokenizers` (which reads `tokenizer.json` and applies the
 * tokenizer's own normalizer, pre-tokenizer, model and special tokens). This module adds what the
 * library leaves to the caller, following the model family's rule (core/model-family): the Python
 * tokenizer's text clean-up where tokenizer.json lacks it, truncation to the context length keeping the
 * end token, and padding a batch into one int64 matrix — to its longest row, or to exactly the context
 * length for bidirectional towers that pool the last position (SigLIP).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { FAMILIES, canonicalizeSiglip, type TokenRule } from './model-family';

type Json = Record<string, unknown>;

/** How a batch is padded: to its longest row (CLIP) or to a fixed length (SigLIP-style tokenizers). */
export interface PaddingRule {
  padId: number;
  /** Fixed length in tokens, or null to pad to the longest sequence in the batch. */
  fixedLength: number | null;
}

export interface ClipTokenizer {
  /** Maximum tokens per text, start and end tokens included. */
  contextLength: number;
  padding: PaddingRule;
  /** Token ids of one text, truncated to `contextLength` with the end token kept last. */
  encode(text: string): number[];
  /** A padded `texts.length × seqLen` int64 matrix (row-major) and `seqLen`. */
  encodeBatch(texts: string[]): { ids: BigInt64Array; seqLen: number; lengths: number[] };
}

function tokenId(tokenizerJson: Json, content: unknown): number | null {
  if (typeof content !== 'string') return null;
  const added = tokenizerJson.added_tokens;
  if (Array.isArray(added)) {
    for (const t of added as Json[]) if (t.content === content && typeof t.id === 'number') return t.id;
  }
  const vocab = (tokenizerJson.model as Json | undefined)?.vocab;
  if (vocab && !Array.isArray(vocab)) {
    const v = (vocab as Json)[content];
    if (typeof v === 'number') return v;
  }
  // Unigram (SentencePiece) vocabularies are [piece, score] lists: the id is the index.
  if (Array.isArray(vocab)) {
    const i = (vocab as unknown[]).findIndex((p) => Array.isArray(p) && p[0] === content);
    if (i >= 0) return i;
  }
  return null;
}

function specialContent(v: unknown): unknown {
  return v && typeof v === 'object' ? (v as Json).content : v;
}

/**
 * Build the tokenizer from the parsed JSON files and the family's rule (CLIP's by default).
 * `contextLength` falls back to the tokenizer's `model_max_length`, then to the text config's
 * `max_position_embeddings`, then to the family's default (77 for CLIP, 64 for SigLIP).
 */
export function createClipTokenizer(
  tokenizerJson: Json,
  tokenizerConfig: Json,
  maxPositionEmbeddings?: number,
  rule: TokenRule = FAMILIES.clip.tokenization,
): ClipTokenizer {
  const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  const cfgMax = tokenizerConfig.model_max_length;
  const contextLength =
    typeof cfgMax === 'number' && cfgMax > 0 && cfgMax < 100_000
      ? cfgMax
      : (maxPositionEmbeddings ?? rule.defaultContextLength);

  const padSpec = tokenizerJson.padding as Json | null | undefined;
  const strategy = padSpec?.strategy as Json | string | undefined;
  const fixed = strategy && typeof strategy === 'object' ? (strategy.Fixed as number | undefined) : undefined;
  const padId =
    (typeof rule.pad === 'object' ? rule.pad.id : null) ??
    (typeof padSpec?.pad_id === 'number' ? padSpec.pad_id : null) ??
    tokenId(tokenizerJson, specialContent(tokenizerConfig.pad_token)) ??
    tokenId(tokenizerJson, specialContent(tokenizerConfig.eos_token)) ??
    0;
  const fixedLength = rule.padTo === 'max-length' ? contextLength : typeof fixed === 'number' ? fixed : null;
  const padding: PaddingRule = { padId, fixedLength };
  const endId = tokenId(tokenizerJson, specialContent(tokenizerConfig.eos_token));
  const lowerCase = tokenizerConfig.do_lower_case !== false;

  const encode = (text: string): number[] => {
    const input = rule.canonicalize === 'siglip' ? canonicalizeSiglip(text, lowerCase) : text;
    let ids = tok.encode(input).ids;
    if (rule.ensureEndToken && endId !== null && ids[ids.length - 1] !== endId) ids = [...ids, endId];
    if (ids.length <= contextLength) return ids;
    // Keep the end token: CLIP pools at the first end-of-text token, SigLIP expects `</s>` last.
    return [...ids.slice(0, contextLength - 1), ids[ids.length - 1] as number];
  };

  const encodeBatch = (texts: string[]) => {
    const rows = texts.map(encode);
    const lengths = rows.map((r) => r.length);
    const seqLen = padding.fixedLength ?? Math.max(1, ...lengths);
    const ids = new BigInt64Array(rows.length * seqLen).fill(BigInt(padding.padId));
    rows.forEach((r, i) => {
      for (let j = 0; j < Math.min(r.length, seqLen); j++) ids[i * seqLen + j] = BigInt(r[j] as number);
    });
    return { ids, seqLen, lengths };
  };

  return { contextLength, padding, encode, encodeBatch };
}
