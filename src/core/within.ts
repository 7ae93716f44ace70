/** Resolve with `p`, or with null once `ms` pass (p keeps running; its result is dropped). Infinity: no limit. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  if (!Number.isFinite(ms)) return p;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(null), Math.max(0, ms));
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
