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

/**
 * A fault to inject for a Hub file: an HTTP status to answer with, or 'cut' to send half the file and
 * drop the connection. `attempt` counts GET requests for that URL path, from 1.
 */
export type HubFault = (model: string, file: string, attempt: number) => number | 'cut' | undefined;

export function startHubServer(
  modelsRoot: string,
  extraRoot?: string,
  /** Maps a non-Hub URL path to a path under extraRoot (default: the same path). */
  mapPath: (p: string) => string = (p) => p,
  fault?: HubFault,
): Promise<LocalServer> {
  const requests: string[] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-allow-headers', 'range');
    res.setHeader('access-control-expose-headers', 'content-length, content-range, accept-ranges');
    res.setHeader('cross-origin-resource-policy', 'cross-origin');
    if (req.method === 'OPTIONS') return void res.end();
    const hub = /^\/[^/]+\/([^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    if (hub && fault && req.method === 'GET') {
      const n = (attempts.get(url.pathname) ?? 0) + 1;
      attempts.set(url.pathname, n);
      const f = fault(decodeURIComponent(hub[1]!), decodeURIComponent(hub[2]!), n);
      if (typeof f === 'number') {
        res.statusCode = f;
        return void res.end(
          f === 401 ? 'Invalid credentials in Authorization header' : 'Access to model is restricted',
        );
      }
      if (f === 'cut') {
        const file = path.join(modelsRoot, decodeURIComponent(hub[1]!), decodeURIComponent(hub[2]!));
        const all = fs.readFileSync(file);
        res.setHeader('content-length', String(all.length));
        res.write(all.subarray(0, all.length >> 1), () => setTimeout(() => res.socket?.destroy(), 50));
        return;
      }
    }
    let file: string | null = null;
    if (hub) file = path.join(modelsRoot, decodeURIComponent(hub[1]!), decodeURIComponent(hub[2]!));
    else if (extraRoot) file = path.join(extraRoot, mapPath(decodeURIComponent(url.pathname)));
    if (!file || file.includes('..') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('Entry not found');
      return;
    }
    const size = fs.statSync(file).size;
    res.setHeader('accept-ranges', 'bytes');
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (range) {
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${size - 1}/${size}`);
    }
    res.setHeader('content-length', String(size - start));
    if (req.method === 'HEAD') return void res.end();
    fs.createReadStream(file, { start }).pipe(res);
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
