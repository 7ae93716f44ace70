/**
 * Caption corpora with known concept counts, for the counting e2e and bench: each caption mentions
 * 0–2 concepts (random case, singular or plural) among filler words that contain the concepts as
 * substrings ("category", "dogma") but never as words. Other concepts and fillers can be passed.
 */
export const CORPUS_CONCEPTS = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];
const FILLERS = [
  'a photo of',
  'there is a',
  'my',
  'the big',
  'category',
  'dogma',
  'shipment',
  'a',
  'near the',
  'catalog',
];

export function* captions(
  n: number,
  seed = 1,
  concepts: readonly string[] = CORPUS_CONCEPTS,
  fillers: readonly string[] = FILLERS,
): Generator<{ caption: string; mentions: string[] }> {
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < n; i++) {
    const parts = [pick(fillers)];
    const mentions = new Set<string>();
    const k = Math.floor(rand() * 3);
    for (let j = 0; j < k; j++) {
      const c = pick(concepts);
      mentions.add(c);
      const form = rand() < 0.5 ? c : `${c}s`;
      parts.push(rand() < 0.3 ? form.toUpperCase() : form, pick(fillers));
    }
    yield { caption: parts.join(' '), mentions: [...mentions] };
  }
}
