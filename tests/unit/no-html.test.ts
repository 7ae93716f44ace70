/**
 * The grep-able guarantee that no user string (file, folder, class or model name, caption, error
 * message) is ever interpreted as markup: no Svelte `{@html}` anywhere in the UI, and no DOM API that
 * parses HTML from a string anywhere in the app's code. Svelte's `{expr}` escapes; these would not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { REPO } from '../helpers/paths';

const HTML_SINKS =
  /\{@html\b|\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write\b|createContextualFragment|DOMParser/;

function sources(dir: string): string[] {
  return (fs.readdirSync(path.join(REPO, dir), { recursive: true }) as string[])
    .filter((f) => /\.(svelte|ts|js|html)$/.test(f))
    .map((f) => path.join(dir, f));
}

test('no {@html} or HTML-parsing DOM call in src/, workers/ or index.html', () => {
  const files = [...sources('src'), ...sources('workers'), 'index.html'];
  expect(files.filter((f) => f.endsWith('.svelte')).length).toBeGreaterThan(10); // the scan sees the UI
  const hits = files.flatMap((f) =>
    fs
      .readFileSync(path.join(REPO, f), 'utf8')
      .split('\n')
      .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
      .filter(({ line }) => HTML_SINKS.test(line)),
  );
  expect(hits).toEqual([]);
});

test('the scan would catch one', () => {
  expect(HTML_SINKS.test('<p>{@html file.name}</p>')).toBe(true);
  expect(HTML_SINKS.test('el.innerHTML = name;')).toBe(true);
  expect(HTML_SINKS.test('<p>{file.name}</p>')).toBe(false);
});
