/**
 * Auto's backend decisions, remembered in this browser by (vision-file fingerprint, device), so the
 * timing runs once per model and machine (see src/engine/backend-choice.ts). localStorage: a few
 * hundred bytes per model, read before every load.
 */
import type { BackendDecision } from '../../workers/clip-api';

const KEY = 'zsw-backend-choice-v1';
/** Decisions kept; the oldest go first. */
const MAX_KEPT = 50;

export function rememberedDecisions(): Record<string, BackendDecision> {
  try {
    const raw = globalThis.localStorage?.getItem(KEY);
    return raw ? (JSON.parse(raw) as Record<string, BackendDecision>) : {};
  } catch {
    return {};
  }
}

/** Keep a measured decision (forced/remembered ones add nothing new). */
export function rememberDecision(d: BackendDecision): void {
  if (d.how !== 'measured' || !d.key) return;
  const all = rememberedDecisions();
  all[d.key] = d;
  const keep = Object.entries(all)
    .sort((a, b) => (b[1].measuredAt ?? 0) - (a[1].measuredAt ?? 0))
    .slice(0, MAX_KEPT);
  try {
    globalThis.localStorage?.setItem(KEY, JSON.stringify(Object.fromEntries(keep)));
  } catch {
    // Storage full or blocked: Auto measures again next time, nothing else is lost.
  }
}

/** Forget every remembered decision (the next Auto load times the backends again). */
export function forgetDecisions(): void {
  try {
    globalThis.localStorage?.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
