/**
 * Concept counting as a SQL script for DuckDB or Spark SQL, with the in-browser counter's rules
 * (`ConceptCounter` in ./frequency): whole words, case-insensitive, plurals folded, multi-word concepts
 * as consecutive words, a caption counted once per concept. SQL has no lemmatiser, so the folding is
 * generated here as data: for each concept word, the surface forms whose lemma (pluralize's rules,
 * possessive dropped) is that word — "mouse" → mouse|mice|mouse's|mice's|… — written into one regular
 * expression per concept that runs over each caption's words joined by single spaces.
 *
 * The two engines share every line but the first (reading the captions and splitting them into words).
 * SQL string literals hold neither quotes nor backslashes (DuckDB and Spark escape them differently):
 * `~` stands for a backslash and is replaced with chr(92), and a quote in a concept name is chr(39).
 */
import pluralize from 'pluralize';
import { conceptLemmas, lemma, words } from './frequency';

export type SqlDialect = 'duckdb' | 'spark';
export type CaptionFormat = 'parquet' | 'csv' | 'jsonl' | 'txt' | 'table';

export interface CaptionSource {
  /** A file, a glob of shards (`captions/*.parquet`), or a table name for `table`. */
  path: string;
  format: CaptionFormat;
  /** The caption column (ignored for txt: one caption per line). */
  column: string;
}

export const DEFAULT_CAPTION_SOURCE: CaptionSource = {
  path: 'captions/*.parquet',
  format: 'parquet',
  column: 'caption',
};

/** The counter's word pattern (`WORD` in ./frequency) with `~` for backslash; apostrophes as escapes. */
const WORD_RE = '[~p{L}~p{N}]+(?:[~x27~x{2019}]~p{L}+)*';

const PLURAL_ENDINGS: [string, string][] = [
  ['y', 'ies'],
  ['y', 'ys'],
  ['f', 'ves'],
  ['fe', 'ves'],
  ['us', 'i'],
  ['us', 'uses'],
  ['um', 'a'],
  ['is', 'es'],
  ['on', 'a'],
  ['ex', 'ices'],
  ['ix', 'ices'],
  ['', 'ies'],
];

/**
 * Every word the counter folds to `lem`: the lemma itself, pluralize's plural, the regular -s/-es
 * plurals, and their possessives with ' and ’ — each kept only if the counter's own `lemma` maps it
 * back to `lem`. A word outside this list that the counter still folds (rare: pluralize's rules map
 * some unlisted forms) is where SQL and JS can differ.
 */
export function lemmaForms(lem: string): string[] {
  const bases = new Set([lem, pluralize.plural(lem), `${lem}s`, `${lem}es`]);
  // Endings pluralize's singular rules undo (rooves → roof, monkeies → monkey): kept when they fold back.
  for (const [end, plural] of PLURAL_ENDINGS) if (lem.endsWith(end)) bases.add(lem.slice(0, -end.length) + plural);
  const out = new Set<string>();
  for (const b of bases) {
    for (const f of [b, `${b}'s`, `${b}’s`]) {
      const ws = words(f);
      if (ws.length === 1 && ws[0] === f && lemma(f) === lem) out.add(f);
    }
  }
  return [...out].sort();
}

const escapeForm = (f: string) => f.replaceAll("'", '~x27').replaceAll('’', '~x{2019}');

/**
 * The regular expression (with `~` for backslash) that finds a concept in " w1 w2 … " (a caption's
 * lowercased words joined by single spaces, padded), or null when no word folds to one of its lemmas.
 */
export function conceptPattern(concept: string): string | null {
  const lems = conceptLemmas(concept);
  if (lems.length === 0) return null;
  const parts: string[] = [];
  for (const l of lems) {
    const forms = lemmaForms(l);
    if (forms.length === 0) return null;
    parts.push(`(?:${forms.map(escapeForm).join('|')})`);
  }
  return ` ${parts.join(' ')} `;
}

const SQL_CHARS: Record<string, number> = { "'": 39, '\\': 92, '\n': 10, '\r': 13, '\t': 9 };

/** A SQL string expression both engines read the same way: quotes, backslashes and breaks via chr(). */
export function sqlString(s: string): string {
  const pieces: string[] = [];
  let lit = '';
  for (const ch of s) {
    const code = SQL_CHARS[ch];
    if (code === undefined) {
      lit += ch;
      continue;
    }
    if (lit) pieces.push(`'${lit}'`);
    lit = '';
    pieces.push(`chr(${code})`);
  }
  if (lit || pieces.length === 0) pieces.push(`'${lit}'`);
  return pieces.length === 1 ? pieces[0]! : `(${pieces.join(' || ')})`;
}

const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;
const sparkIdent = (s: string) => `\`${s.replaceAll('`', '``')}\``;

/** The one line that differs: read the captions and split each into its lowercased words. */
export function wordsLine(dialect: SqlDialect, src: CaptionSource): string {
  const re = `replace('${WORD_RE}', '~', chr(92))`;
  if (dialect === 'duckdb') {
    const p = sqlString(src.path);
    const from = {
      parquet: `read_parquet(${p})`,
      csv: `read_csv(${p}, header = true, all_varchar = true)`,
      jsonl: `read_json(${p}, format = 'newline_delimited')`,
      txt: `read_csv(${p}, header = false, columns = {'caption': 'VARCHAR'}, delim = chr(1), quote = '', escape = '')`,
      table: src.path,
    }[src.format];
    const col = src.format === 'txt' ? 'caption' : ident(src.column);
    return (
      `CREATE OR REPLACE TEMPORARY VIEW caption_words AS SELECT ' ' || array_to_string(regexp_extract_all(` +
      `lower(${col}), ${re}, 0), ' ') || ' ' AS s FROM ${from} WHERE ${col} IS NOT NULL;`
    );
  }
  if (src.format === 'csv') {
    throw new Error(
      'Spark SQL cannot name a CSV header column in a path query: register the CSV as a table (format “table”) or convert it to Parquet.',
    );
  }
  const p = sparkIdent(src.path);
  const from = { parquet: `parquet.${p}`, jsonl: `json.${p}`, txt: `text.${p}`, table: src.path }[src.format];
  const col = src.format === 'txt' ? 'value' : sparkIdent(src.column);
  return (
    `CREATE OR REPLACE TEMPORARY VIEW caption_words AS SELECT ' ' || array_join(regexp_extract_all(` +
    `lower(${col}), ${re}, 0), ' ') || ' ' AS s FROM ${from} WHERE ${col} IS NOT NULL;`
  );
}

/**
 * A script that prints `concept,count` (DuckDB: `duckdb -csv`) or `concept<TAB>count` (spark-sql), one
 * row per concept in the given order, which the Concept frequency view imports.
 */
export function conceptCountSql(
  concepts: readonly string[],
  dialect: SqlDialect,
  source: CaptionSource = DEFAULT_CAPTION_SOURCE,
): string {
  const unique = [...new Set(concepts)];
  if (unique.length === 0) throw new Error('There are no concepts to count.');
  const cols = unique.map((c, i) => {
    const re = conceptPattern(c);
    if (re === null) return `    0 AS c${i}`;
    return `    sum(CASE WHEN regexp_extract(s, replace('${re}', '~', chr(92)), 0) <> '' THEN 1 ELSE 0 END) AS c${i}`;
  });
  // One pass over the captions (hits is one row), then one row per concept: hits is read once, so
  // neither engine scans the captions again per concept.
  const names = unique.map((c, i) => `  (${i}, ${sqlString(c)})`);
  const pick = unique.map((_, i) => `    WHEN ${i} THEN h.c${i}`);
  const other = dialect === 'duckdb' ? 'Spark SQL' : 'DuckDB';
  return [
    wordsLine(dialect, source),
    `-- Concept counts from Zero-Shot Workbench (${dialect === 'duckdb' ? 'DuckDB' : 'Spark SQL'}; only the line above differs for ${other}).`,
    '-- Rules as in the browser: whole words, case-insensitive, plurals folded (the forms are listed in each',
    '-- pattern), multi-word concepts as consecutive words, a caption counted once per concept.',
    dialect === 'duckdb'
      ? '-- Run: duckdb -csv < this.sql > concept_counts.csv'
      : '-- Run: spark-sql -S -f this.sql > concept_counts.tsv',
    'WITH hits AS (',
    '  SELECT',
    cols.join(',\n'),
    '  FROM caption_words',
    ')',
    'SELECT k.concept AS concept, coalesce(CASE k.i',
    pick.join('\n'),
    '  END, 0) AS count',
    'FROM hits h CROSS JOIN (VALUES',
    names.join(',\n'),
    ') AS k(i, concept)',
    'ORDER BY k.i;',
    '',
  ].join('\n');
}

/** A caption source from a path or glob, its format told by the extension (none: a table name). */
export function captionSource(pathOrTable: string, column = 'caption'): CaptionSource {
  const p = pathOrTable.trim();
  const ext = /\.([a-z]+)$/i.exec(p)?.[1]?.toLowerCase() ?? '';
  const format: CaptionFormat =
    ext === 'parquet'
      ? 'parquet'
      : ext === 'csv'
        ? 'csv'
        : ['jsonl', 'ndjson', 'json'].includes(ext)
          ? 'jsonl'
          : ext === 'txt'
            ? 'txt'
            : 'table';
  return { path: p, format, column: column.trim() || 'caption' };
}
