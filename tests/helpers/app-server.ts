/** Starts the app's Vite dev server in-process on a free 127.0.0.1 port, serving MODELS_DIR. */
import { createServer, type ViteDevServer } from 'vite';
import { REPO, MODELS } from './paths';

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
