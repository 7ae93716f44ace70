/**
 * The "try it" sample set: 24 COCO images under CC BY / CC BY-SA, listed in coco-samples.json (only
 * URLs and credits are committed). Fetched from the COCO image server on first use and kept in Cache
 * Storage, so later visits work offline. `?samples=<base URL>` points the manifest elsewhere (tests
 * use a local server).
 */
import manifest from './coco-samples.json';

export const SAMPLES_CACHE_NAME = 'zsw-samples-v1';

export interface Sample {
  path: string;
  caption: string;
  license: string;
  licenseUrl: string;
  flickrUrl: string;
}

export const SAMPLES: readonly Sample[] = manifest.images;
export const SAMPLES_SOURCE = manifest.source;

export function samplesBaseUrl(search = globalThis.location?.search ?? ''): string {
  const override = new URLSearchParams(search).get('samples');
  const base = override || manifest.baseUrl;
  return base.endsWith('/') ? base : `${base}/`;
}

/** Fetch (or read from cache) each sample; reports how many are ready. Failures name the file. */
export async function loadSamples(
  onProgress: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<{ sample: Sample; blob: Blob }[]> {
  const base = samplesBaseUrl();
  const cache = await caches.open(SAMPLES_CACHE_NAME).catch(() => null);
  const out: { sample: Sample; blob: Blob }[] = [];
  let done = 0;
  await Promise.all(
    SAMPLES.map(async (sample) => {
      const url = base + sample.path;
      let res = (await cache?.match(url)) ?? null;
      if (!res) {
        try {
          res = await fetch(url, signal ? { signal } : {});
        } catch (e) {
          throw new Error(`Could not download the sample image ${sample.path} from ${url}: ${String(e)}`, { cause: e });
        }
        if (!res.ok) throw new Error(`The sample image ${sample.path} gave HTTP ${res.status} at ${url}.`);
        await cache?.put(url, res.clone()).catch(() => undefined);
      }
      out.push({ sample, blob: await res.blob() });
      onProgress(++done, SAMPLES.length);
    }),
  );
  // Keep the manifest's order, whatever order the downloads finished in.
  return SAMPLES.map((s) => out.find((o) => o.sample === s)!);
}
