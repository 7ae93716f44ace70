/**
 * The app for browser tests. `startBuiltApp`: the production build (built once per source change into
 * .cache/test-dist and shared by every test file: a page opens in ~3 s where the dev server, compiling
 * modules per new server, took 6–11 s on 2 cores), served with `vite preview`. `startAppServer`: the
 * Vite dev server, for pages that only it serves (tests/browser/harness.html, the bench's peers).
 * Both serve MODELS_DIR at /models/ on a free 127.0.0.1 port.
 */
import { createServer, type ViteDevServer } from 'vite';
import { serveBuiltApp } from '../../scripts/serve-built';
import { isBuildFresh } from './built-app';
import { REPO, MODELS } from './paths';

/** The build every test file shares. */
export const TEST_DIST = '.cache/test-dist';

export async function startAppServer(modelsDir = MODELS): Promise<{ url: string; server: ViteDevServer }> {
  process.env.MODELS_DIR = modelsDir;
  const server = await createServer({
    root: REPO,
    configFile: `${REPO}/vite.config.ts`,
    logLevel: 'error',
    server: { port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  const addr = server.resolvedUrls?.local[0];
  if (!addr) throw new Error('vite did not report a URL');
  return { url: addr.replace(/\/$/, ''), server };
}

export async function startBuiltApp(modelsDir = MODELS): Promise<{ url: string; server: { close(): Promise<void> } }> {
  const app = await serveBuiltApp({ outDir: TEST_DIST, modelsDir, rebuild: !isBuildFresh(TEST_DIST) });
  return { url: app.url, server: { close: () => app.close() } };
}
