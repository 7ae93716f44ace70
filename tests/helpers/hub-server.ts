/**
 * A local stand-in for the Hugging Face Hub: serves `/<org>/<name>/resolve/main/<file>` from a folder of
 * model folders (the org is ignored), and any other path from `extraRoot`, on 127.0.0.1 only.
 * Counts requests so tests can check what was (not) downloaded.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface LocalServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

export function startHubServer(
  modelsRoot: string,
  extraRoot?: string,
  /** Maps a non-Hub URL path to a path under extraRoot (default: the same path). */
  mapPath: (p: string) => string = (p) => p,
): Promise<LocalServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('cross-origin-resource-policy', 'cross-origin');
    const hub = /^\/[^/]+\/([^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    let file: string | null = null;
    if (hub) file = path.join(modelsRoot, decodeURIComponent(hub[1]!), decodeURIComponent(hub[2]!));
    else if (extraRoot) file = path.join(extraRoot, mapPath(decodeURIComponent(url.pathname)));
    if (!file || file.includes('..') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('Entry not found');
      return;
    }
    res.setHeader('content-length', String(fs.statSync(file).size));
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
