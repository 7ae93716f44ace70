/**
 * Screenshots of the running app for review: `npx tsx scripts/screenshot.ts <url> <out.png> [width]`.
 * Optional env ACTIONS=demo loads the first served model and classifies the sample photos first.
 */
import { launchChromium } from '../tests/helpers/browser';

const [url, out, width] = process.argv.slice(2);
if (!url || !out) throw new Error('usage: screenshot.ts <url> <out.png> [width]');
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: Number(width ?? 1366), height: 900 } });
page.on('console', (m) => m.type() === 'error' && console.error('console:', m.text()));
await page.goto(url);
if (process.env.ACTIONS === 'demo') {
  await page.getByRole('button', { name: 'Load model' }).click();
  await page.getByTestId('dim').waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Try 24 sample photos' }).click();
  await page.getByTestId('image-card').nth(23).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: /^Classify/ }).click();
  await page.locator('[aria-label^="Probabilities for"]').nth(23).waitFor({ timeout: 120_000 });
}
await page.screenshot({ path: out, fullPage: true });
await browser.close();
