/**
 * Build the app and serve the static files with `vite preview` on a free 127.0.0.1 port (COOP/COEP
 * headers on, MODELS_DIR served at /models/): what the bench drives, and what tests use to check
 * the production build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build, preview, type PreviewServer } from 'vite';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export interface BuiltApp {
  url: string;
  close(): Promise<void>;
}

export async function serveBuiltApp(opts: {
  outDir: string;
  modelsDir?: string;
  rebuild?: boolean;
  /** A fixed port keeps the origin, and with it the browser profile's IndexedDB, the same across runs. */
  port?: number;
}): Promise<BuiltApp> {
  const outDir = path.resolve(REPO, opts.outDir);
  if (opts.rebuild !== false || !fs.existsSync(path.join(outDir, 'index.html'))) {
    await build({ root: REPO, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  }
  if (opts.modelsDir) process.env.MODELS_DIR = opts.modelsDir;
  const server: PreviewServer = await preview({
    root: REPO,
    logLevel: 'error',
    build: { outDir },
    preview: { port: opts.port ?? 0, strictPort: opts.port !== undefined, host: '127.0.0.1' },
  });
  const url = server.resolvedUrls?.local[0]?.replace(/\/$/, '');
  if (!url) throw new Error('the preview server did not report a URL');
  return { url, close: () => new Promise<void>((r) => server.httpServer.close(() => r())) };
}
