/** Real Chromium for browser tests: Debian's /usr/bin/chromium (or CHROMIUM_PATH), driven by playwright-core. */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  // More, space-separated, for a machine whose GPU needs them (e.g. `--use-angle=gl-egl` headless on NVIDIA).
  ...(process.env.CHROMIUM_EXTRA_ARGS ?? '').split(/\s+/).filter(Boolean),
];

const LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
};

export function launchChromium(): Promise<Browser> {
  return chromium.launch(LAUNCH);
}

/** Chromium with a profile folder kept between launches (its IndexedDB and Cache Storage persist). */
export function launchPersistent(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, LAUNCH);
}

/** Collects console errors and page errors, so a test can assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/**
 * A new page on the test harness (tests/browser/harness.html, served by the Vite dev server at `appUrl`),
 * ready: `window.harness` drives the model worker directly. Its console errors are collected.
 */
export async function openHarness(browser: Browser, appUrl: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(`${appUrl}/tests/browser/harness.html`);
  await page.waitForFunction(() => (window as { harness?: { ready?: boolean } }).harness?.ready === true);
  return { page, errors };
}

/** Float32Array data the main thread received in messages from workers and ports (see `countMainThreadFloats`). */
export interface MainThreadFloats {
  bytes: number;
  /** The largest single Float32Array, in elements. */
  largest: number;
}

declare global {
  interface Window {
    __mainFloats?: MainThreadFloats & { reset(): void };
  }
}

/**
 * Count the Float32Array bytes in every message the page's main thread receives from a Worker or a
 * MessagePort (Comlink listens with addEventListener, so wrapping it sees every reply and callback),
 * from before the app's first script. Read and reset with `window.__mainFloats`.
 */
export async function countMainThreadFloats(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const tally = {
      bytes: 0,
      largest: 0,
      reset() {
        tally.bytes = 0;
        tally.largest = 0;
      },
    };
    window.__mainFloats = tally;
    const seen = new WeakSet<Event>();
    const walk = (v: unknown, depth: number): void => {
      if (v instanceof Float32Array) {
        tally.bytes += v.byteLength;
        tally.largest = Math.max(tally.largest, v.length);
      } else if (depth < 8 && v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
        for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x, depth + 1);
      }
    };
    for (const proto of [Worker.prototype, MessagePort.prototype]) {
      const add = proto.addEventListener;
      proto.addEventListener = function (this: EventTarget, type: string, listener: unknown, opts?: unknown) {
        if (type === 'message' && typeof listener === 'function') {
          const inner = listener as (e: Event) => void;
          const counted = function (this: unknown, e: Event) {
            if (!seen.has(e)) {
              seen.add(e);
              walk((e as MessageEvent).data, 0);
            }
            return inner.call(this, e);
          };
          return add.call(this, type, counted, opts as AddEventListenerOptions);
        }
        return add.call(this, type, listener as EventListener, opts as AddEventListenerOptions);
      } as typeof proto.addEventListener;
    }
  });
}
