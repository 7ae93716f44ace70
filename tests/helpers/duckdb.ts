/**
 * DuckDB (the npm build, @duckdb/node-api) for tests and benches: run a script of several statements and
 * read the last one's rows, as `duckdb -csv < script.sql` prints them.
 */
import { DuckDBInstance } from '@duckdb/node-api';

/** Rows of the script's last statement, values as JSON (BIGINT counts come back as strings). */
export async function runDuckDb(sql: string, cwd?: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    if (cwd) await con.run(`SET file_search_path = '${cwd.replaceAll("'", "''")}'`);
    const reader = await con.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** The `concept,count` rows of an exported counting script as an object. */
export async function duckDbCounts(sql: string): Promise<Record<string, number>> {
  const rows = await runDuckDb(sql);
  return Object.fromEntries(rows.map((r) => [String(r.concept), Number(r.count)]));
}
