/**
 * Vite plugin: serves the model folders of `MODELS_DIR` (e.g. `MODELS_DIR=../shared/models npm start`)
 * at `/models/<name>/<file>`, with `/models/index.json` listing the folders that have a `config.json`.
 * This is what lets an offline machine load models from its own disk through the app's server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Connect, Plugin } from 'vite';

export interface ServedModel {
  name: string;
  files: string[];
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out;
}

export function listModels(root: string): ServedModel[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(root, e.name, 'config.json')))
    .map((e) => ({
      name: e.name,
      files: listFiles(path.join(root, e.name)).filter(
        (f) => /\.(json|onnx|txt)$/.test(f) && !f.startsWith('reference/'),
      ),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function modelsMiddleware(root: string | undefined): Connect.NextHandleFunction {
  const base = root ? path.resolve(root) : undefined;
  return (req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/models/')) return next();
    if (url.pathname === '/models/index.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ models: base ? listModels(base) : [] }));
      return;
    }
    const rel = decodeURIComponent(url.pathname.slice('/models/'.length));
    const file = base ? path.resolve(base, rel) : '';
    if (!base || !file.startsWith(base + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-length', String(fs.statSync(file).size));
    res.setHeader('content-type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(file).pipe(res);
  };
}

/** Serve MODELS_DIR in `vite` (dev) and `vite preview`. */
export function modelsDirPlugin(root: string | undefined): Plugin {
  return {
    name: 'zsw-models-dir',
    configureServer(server) {
      server.middlewares.use(modelsMiddleware(root));
    },
    configurePreviewServer(server) {
      server.middlewares.use(modelsMiddleware(root));
    },
  };
}
