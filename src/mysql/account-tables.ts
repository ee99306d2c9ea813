import { FailedPreconditionError } from '../errors.js';
import type { Flavor } from './flavor.js';
import { quoteIdentifier } from './identifiers.js';
import type { SqlClient } from './sql-client.js';

/**
 * The tables a server keeps its accounts, roles and grants in (besides the routines' definers).
 * A branch gets its parent snapshot's copy of each, so no grant its clone's user changed survives.
 */
export const ACCOUNT_TABLES: Readonly<Record<Flavor, readonly string[]>> = {
  mariadb: ['global_priv', 'db', 'tables_priv', 'columns_priv', 'procs_priv', 'proxies_priv', 'roles_mapping'],
  mysql: ['user', 'db', 'tables_priv', 'columns_priv', 'procs_priv', 'proxies_priv', 'role_edges', 'default_roles', 'global_grants', 'password_history'],
};

/** One column: its name, how it is read back as text, and how that text is written again. */
interface Column {
  name: string;
  /** The column's character set; null for numbers, times and binary strings. */
  charset: string | null;
  json: boolean;
}

/** One account table's rows, every value hex-encoded text (null for SQL NULL). */
export interface TableCopy {
  table: string;
  columns: Column[];
  rows: (string | null)[][];
}

/** Every account table of one server: what a snapshot records for its branches. */
export interface AccountTables {
  flavor: Flavor;
  tables: TableCopy[];
}

async function columnsOf(client: SqlClient, table: string): Promise<Column[] | null> {
  const kind = await client.query<{ t: unknown }>("SELECT TABLE_TYPE AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = ?", [table]);
  if (kind.length === 0) return null;
  if (String(kind[0]?.t) !== 'BASE TABLE') {
    throw new FailedPreconditionError(`mysql.${table} in this data is not the server's table`, { hint: 'the data was tampered with: take the snapshot from the replica, not from this branch' });
  }
  const rows = await client.query<{ n: unknown; cs: unknown; dt: unknown }>(
    "SELECT COLUMN_NAME AS n, CHARACTER_SET_NAME AS cs, DATA_TYPE AS dt FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    [table],
  );
  return rows.map((r) => ({ name: String(r.n), charset: r.cs === null ? null : String(r.cs), json: String(r.dt).toLowerCase() === 'json' }));
}

/** A column read as the bytes of its text form (a number as its digits, a JSON document as its text). */
function readExpression(column: Column): string {
  const id = quoteIdentifier(column.name);
  return column.json ? `HEX(CAST(${id} AS CHAR CHARACTER SET utf8mb4))` : `HEX(CAST(${id} AS BINARY))`;
}

/** The value written back from those bytes, in the column's own character set. */
function writeExpression(column: Column): string {
  if (column.json) return 'CONVERT(UNHEX(?) USING utf8mb4)';
  return column.charset === null || column.charset === 'binary' ? 'UNHEX(?)' : `CONVERT(UNHEX(?) USING ${column.charset})`;
}

/** Reads every account table the server has (a missing one is left out; a view in its place is refused). */
export async function readAccountTables(client: SqlClient, flavor: Flavor): Promise<AccountTables> {
  const tables: TableCopy[] = [];
  for (const table of ACCOUNT_TABLES[flavor]) {
    const columns = await columnsOf(client, table);
    if (columns === null) continue;
    const names = columns.map((_, i) => `c${i}`);
    const select = `SELECT ${columns.map((c, i) => `${readExpression(c)} AS ${names[i]}`).join(', ')} FROM mysql.${quoteIdentifier(table)}`;
    const rows = await client.query<Record<string, unknown>>(select);
    tables.push({ table, columns, rows: rows.map((row) => names.map((n) => (row[n] === null || row[n] === undefined ? null : String(row[n])))) });
  }
  return { flavor, tables };
}

/** Rows per INSERT statement. */
const BATCH = 100;

/**
 * Replaces the server's account tables with `copy` (every row deleted, the copy's rows inserted,
 * the columns they have in common), then reloads the grants. A table the copy has and the server
 * lacks is left out; a table the server has and the copy lacks is emptied.
 */
export async function restoreAccountTables(client: SqlClient, copy: AccountTables): Promise<void> {
  for (const table of ACCOUNT_TABLES[copy.flavor]) {
    const columns = await columnsOf(client, table);
    if (columns === null) continue;
    const target = `mysql.${quoteIdentifier(table)}`;
    await client.execute(`DELETE FROM ${target}`);
    const source = copy.tables.find((t) => t.table === table);
    if (!source || source.rows.length === 0) continue;
    const here = new Map(columns.map((c) => [c.name, c]));
    const kept = source.columns.map((c, i) => ({ column: here.get(c.name), index: i })).filter((k): k is { column: Column; index: number } => k.column !== undefined);
    const tuple = `(${kept.map((k) => writeExpression(k.column)).join(', ')})`;
    const into = `INSERT INTO ${target} (${kept.map((k) => quoteIdentifier(k.column.name)).join(', ')}) VALUES `;
    for (let at = 0; at < source.rows.length; at += BATCH) {
      const batch = source.rows.slice(at, at + BATCH);
      await client.execute(into + batch.map(() => tuple).join(', '), batch.flatMap((row) => kept.map((k) => row[k.index] ?? null)));
    }
  }
  await client.execute('FLUSH PRIVILEGES');
}
