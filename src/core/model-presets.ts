/**
 * Hub presets in the transformers.js layout, grouped by family. Embedding sizes are the models'
 * projection widths. ImageNet-1k zero-shot top-1 is the published CLIP_benchmark figure of the original
 * weights from open_clip's results table (docs/openclip_results.csv, MIT; the copy in
 * shared/datasets/reference-results) where the table has the model — not a measurement of the ONNX export.
 * Download sizes are not stored here: the picker asks the host for each weight file's size.
 */
import type { FamilyId } from './model-family';

export interface ModelPreset {
  id: string;
  family: FamilyId;
  label: string;
  embeddingDim: number;
  /** Published ImageNet-1k zero-shot top-1 (fraction) and the open_clip table row it comes from. */
  imagenet: { top1: number; row: string } | null;
}

export const MODEL_PRESETS: readonly ModelPreset[] = [
  {
    id: 'Xenova/clip-vit-base-patch32',
    family: 'clip',
    label: 'CLIP ViT-B/32 (default)',
    embeddingDim: 512,
    imagenet: { top1: 0.6332, row: 'ViT-B-32, openai' },
  },
  {
    id: 'Xenova/clip-vit-base-patch16',
    family: 'clip',
    label: 'CLIP ViT-B/16',
    embeddingDim: 512,
    imagenet: { top1: 0.6834, row: 'ViT-B-16, openai' },
  },
  {
    id: 'Xenova/clip-vit-large-patch14',
    family: 'clip',
    label: 'CLIP ViT-L/14 (large download)',
    embeddingDim: 768,
    imagenet: { top1: 0.7554, row: 'ViT-L-14, openai' },
  },
  {
    id: 'Xenova/siglip-base-patch16-224',
    family: 'siglip',
    label: 'SigLIP B/16 224',
    embeddingDim: 768,
    imagenet: { top1: 0.7604, row: 'ViT-B-16-SigLIP, webli' },
  },
  {
    id: 'Xenova/siglip-base-patch16-256',
    family: 'siglip',
    label: 'SigLIP B/16 256',
    embeddingDim: 768,
    imagenet: { top1: 0.7653, row: 'ViT-B-16-SigLIP-256, webli' },
  },
  {
    id: 'Xenova/siglip-base-patch16-384',
    family: 'siglip',
    label: 'SigLIP B/16 384',
    embeddingDim: 768,
    imagenet: { top1: 0.7849, row: 'ViT-B-16-SigLIP-384, webli' },
  },
  {
    id: 'Xenova/siglip-base-patch16-512',
    family: 'siglip',
    label: 'SigLIP B/16 512',
    embeddingDim: 768,
    imagenet: { top1: 0.7914, row: 'ViT-B-16-SigLIP-512, webli' },
  },
  {
    id: 'onnx-community/siglip2-base-patch16-224-ONNX',
    family: 'siglip2',
    label: 'SigLIP 2 B/16 224',
    embeddingDim: 768,
    imagenet: null,
  },
  { id: 'Xenova/mobileclip_s0', family: 'mobileclip', label: 'MobileCLIP-S0', embeddingDim: 512, imagenet: null },
  { id: 'Xenova/mobileclip_s1', family: 'mobileclip', label: 'MobileCLIP-S1', embeddingDim: 512, imagenet: null },
  { id: 'Xenova/mobileclip_s2', family: 'mobileclip', label: 'MobileCLIP-S2', embeddingDim: 512, imagenet: null },
  { id: 'Xenova/mobileclip_b', family: 'mobileclip', label: 'MobileCLIP-B', embeddingDim: 512, imagenet: null },
  { id: 'Xenova/mobileclip_blt', family: 'mobileclip', label: 'MobileCLIP-B (LT)', embeddingDim: 512, imagenet: null },
  {
    id: 'jinaai/jina-clip-v1',
    family: 'jina-clip',
    label: 'Jina CLIP v1 (BERT tokenizer)',
    embeddingDim: 768,
    imagenet: null,
  },
];

export const DEFAULT_PRESET = 'Xenova/clip-vit-base-patch32';

/** Presets grouped by family label, in table order. */
export function presetGroups(labelOf: (f: FamilyId) => string): { family: string; presets: ModelPreset[] }[] {
  const groups: { family: string; presets: ModelPreset[] }[] = [];
  for (const p of MODEL_PRESETS) {
    const family = labelOf(p.family);
    let g = groups.find((x) => x.family === family);
    if (!g) groups.push((g = { family, presets: [] }));
    g.presets.push(p);
  }
  return groups;
}
