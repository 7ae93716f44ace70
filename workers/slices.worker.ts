/**
 * Slice statistics off the main thread: per attribute the groups' Wilson intervals, the seeded
 * bootstrap of the worst–best gap and the permutation p-value, Holm across attributes, and the
 * two-attribute table. The math is src/core/slices (the unit tests' reference); this file only
 * runs it here and lets a newer job of the same channel cancel an older one ("latest job wins").
 */
import * as Comlink from 'comlink';
import {
  adjustAcross,
  crossTable,
  summarizeAttribute,
  type CrossCell,
  type ImageOutcomes,
  type SliceSummary,
  type SlicesRequest,
} from '../src/core/slices';
import { nextTask } from '../src/core/next-task';

/** The newest job id per channel; a job that is no longer the newest stops at its next check. */
const latest = new Map<string, number>();

const api = {
  /**
   * Every attribute's summary, Holm-adjusted across them; null when a newer job of `channel` came in
   * first (checked between attributes). Timing in `ms` (worker wall time, waits included).
   */
  async summarize(
    req: SlicesRequest,
    channel: string,
    job: number,
  ): Promise<{ summaries: SliceSummary[]; ms: number } | null> {
    const t0 = performance.now();
    latest.set(channel, job);
    const out: SliceSummary[] = [];
    for (const a of req.attributes) {
      await nextTask();
      if (latest.get(channel) !== job) return null;
      out.push(summarizeAttribute(req, a));
    }
    if (latest.get(channel) === job) latest.delete(channel);
    return { summaries: adjustAcross(out), ms: performance.now() - t0 };
  },

  /** Top-1 per (row value, column value) pair (the heatmap); null when superseded on `channel`. */
  async cross(
    rows: (readonly string[])[],
    cols: (readonly string[])[],
    outcomes: ImageOutcomes,
    channel: string,
    job: number,
  ): Promise<{ rows: string[]; cols: string[]; cells: CrossCell[] } | null> {
    latest.set(channel, job);
    await nextTask();
    if (latest.get(channel) !== job) return null;
    latest.delete(channel);
    return crossTable(rows, cols, outcomes);
  },
};

export type SlicesWorkerApi = typeof api;

Comlink.expose(api);
