/**
 * McNemar's exact two-sided p from the discordant counts b and c, summed here in log space with no
 * stats library: p = min(1, 2·Σ_{k ≤ min(b, c)} C(b + c, k)/2^(b + c)) — the independent value the
 * comparison tests hold the app's p against.
 */
export function exactMcnemar(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const logFact = (k: number) => {
    let s = 0;
    for (let i = 2; i <= k; i++) s += Math.log(i);
    return s;
  };
  let tail = 0;
  for (let k = 0; k <= Math.min(b, c); k++)
    tail += Math.exp(logFact(n) - logFact(k) - logFact(n - k) - n * Math.log(2));
  return Math.min(1, 2 * tail);
}
