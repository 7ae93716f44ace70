/**
 * Bench `--embeddings <folder>`: embeddings computed elsewhere (clip-retrieval layout or .npy + path
 * list) go through the page's import panel instead of a folder of images — the same intake, model
 * confirmation and spot check as the UI — and the run scores them without decoding an image.
 */
import type { Page } from 'playwright-core';

interface ImportedInPage {
  set: { layout: string; dtype: string; dim: number; files: string[]; paths: string[] } | null;
  error: { message: string } | null;
  dimProblem: string | null;
  spot: { rows: { file: string; cosine: number }[]; min: number; ok: boolean } | null;
  spotRunning: boolean;
  imagesFound: number;
}

export interface EmbeddingsRecord {
  folder: string;
  layout: string;
  dtype: string;
  dim: number;
  rows: number;
  files: string[];
  images_found: number;
  spot_check: { images: number; min_cosine: number; ok: boolean } | null;
}

/** Pick the folder in the page's import panel, confirm the loaded model and hand the set to the tab. */
export async function importEmbeddings(
  page: Page,
  dir: string,
  task: 'classify' | 'retrieve',
  fail: (message: string) => never,
): Promise<EmbeddingsRecord> {
  const state = () =>
    page.evaluate(() => {
      const s = (window.zsw as unknown as { imported: ImportedInPage }).imported;
      return JSON.parse(
        JSON.stringify({
          set: s.set && {
            layout: s.set.layout,
            dtype: s.set.dtype,
            dim: s.set.dim,
            files: s.set.files,
            paths: s.set.paths.length,
          },
          error: s.error,
          dimProblem: s.dimProblem,
          spot: s.spot,
          spotRunning: s.spotRunning,
          imagesFound: s.imagesFound,
        }),
      ) as Omit<ImportedInPage, 'set'> & {
        set: (Omit<NonNullable<ImportedInPage['set']>, 'paths'> & { paths: number }) | null;
      };
    });
  await page.getByTestId(`embeddings-input-${task}`).setInputFiles(dir);
  await page.waitForFunction(() => {
    const s = (window.zsw as unknown as { imported: ImportedInPage }).imported;
    return s.set !== null || s.error !== null;
  });
  const s = await state();
  if (s.error || !s.set) fail(`--embeddings ${dir}: ${s.error?.message ?? 'not read'}`);
  if (s.dimProblem) fail(`--embeddings ${dir}: ${s.dimProblem}`);
  // The bench's --model is the user's statement of which model made the embeddings; then what the
  // panel's "Use them in this tab" does: hand the set to the tab and spot-check it.
  await page.evaluate(async (t) => {
    const z = window.zsw as unknown as {
      imported: {
        confirm(on: boolean): void;
        entries(t: 'classify' | 'retrieve'): unknown[];
        imagesFound: number;
        spotCheck(): Promise<unknown>;
      };
    } & Record<'classify' | 'retrieve', { setFolder(entries: unknown[]): Promise<void> }>;
    z.imported.confirm(true);
    await z[t].setFolder(z.imported.entries(t));
    if (z.imported.imagesFound > 0) await z.imported.spotCheck();
  }, task);
  const done = await state();
  const set = done.set!;
  return {
    folder: dir,
    layout: set.layout,
    dtype: set.dtype,
    dim: set.dim,
    rows: set.paths,
    files: set.files,
    images_found: done.imagesFound,
    spot_check: done.spot ? { images: done.spot.rows.length, min_cosine: done.spot.min, ok: done.spot.ok } : null,
  };
}
