/** Prompt text helpers shared by the demo and the classification views. */

/** Labels from a comma- or newline-separated list, trimmed, empties and duplicates dropped, order kept. */
export function parseLabels(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const l = raw.trim();
    if (l && !out.includes(l)) out.push(l);
  }
  return out;
}

/** The prompt for a label: every `{}` in the template is replaced, or the label is appended. */
export function promptFor(template: string, label: string): string {
  return template.includes('{}') ? template.replaceAll('{}', label) : `${template} ${label}`.trim();
}
