/**
 * Prompt templates for zero-shot classification: OpenAI's presets, user lists and CLIP_benchmark
 * `templates.txt` files. A template holds `{}` where the class name goes (CLIP_benchmark's `{c}` is
 * accepted and normalised to `{}`).
 */
import presets from './clip-templates.json';

export type TemplatePresetId = 'openai80' | 'openai7' | 'simple';

export interface TemplateSet {
  /** Preset id, or a user-facing name such as `custom` or a file name. */
  name: string;
  templates: string[];
}

export const TEMPLATE_PRESETS: Record<TemplatePresetId, { label: string; templates: string[] }> = {
  openai80: { label: "OpenAI's 80 ImageNet templates", templates: presets.openai80 },
  openai7: { label: "OpenAI's 7 selected templates", templates: presets.openai7 },
  simple: { label: '“a photo of a {}.”', templates: ['a photo of a {}.'] },
};

export const TEMPLATES_SOURCE = presets.source;

export function isPresetId(s: string): s is TemplatePresetId {
  return s in TEMPLATE_PRESETS;
}

export function presetSet(id: TemplatePresetId): TemplateSet {
  return { name: id, templates: [...TEMPLATE_PRESETS[id].templates] };
}

/**
 * Templates from text: one per line; blank lines and `#` comments dropped, duplicates removed (order kept).
 * `{c}` (CLIP_benchmark) becomes `{}`. A line without a placeholder is an error naming the line, since
 * it would give every class the same prompt.
 */
export function parseTemplates(text: string, fileName = 'templates'): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (!line || line.startsWith('#')) continue;
    const t = line.replaceAll('{c}', '{}');
    if (!t.includes('{}')) {
      throw new Error(`${fileName}, line ${i + 1}: “${line}” has no {} (or {c}) where the class name goes.`);
    }
    if (!out.includes(t)) out.push(t);
  }
  if (out.length === 0) throw new Error(`${fileName} holds no templates.`);
  return out;
}

/** Every prompt of a class × template grid, class-major: index = class × T + template. */
export function promptGrid(classNames: string[], templates: string[]): string[] {
  const out: string[] = [];
  for (const name of classNames) for (const t of templates) out.push(t.replaceAll('{}', name));
  return out;
}
