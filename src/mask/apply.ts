import { DollyError, FailedPreconditionError, InternalError } from '../errors.js';
import { quoteIdentifier as q, quoteString } from '../mysql/identifiers.js';
import { describeSqlError, type SqlClient } from '../mysql/sql-client.js';
import { splitTableName, type MaskRules, type Rule, type ValueRule } from './rule.js';
import { innodbName, rowKey } from './schema-info.js';
import type { ColumnInfo, SchemaInfo, TableInfo } from './schema-types.js';
import { canonicalJson } from './key.js';
import { valueTransform, type ColumnShape } from './transforms.js';

/** The scratch database the rebuild works in; dropped at the end (its files with it). */
export const SCRATCH_DB = 'dolly_mask';
/** Rows read and written per round trip. */
const BATCH = 5_000;

/** What masking did. */
export interface MaskResult {
  tables: number;
  rows: number;
  /** Data and index bytes of the masked tables before masking (what throughput is counted in). */
  bytes: number;
}

/** One value computed in dolly: a column's value, or a value at a JSON path inside it. */
interface Computed {
  column: ColumnInfo;
  path?: string;
  fn: (value: string) => string;
}

const integerTypes = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
const temporalTypes = new Set(['date', 'datetime', 'timestamp', 'time', 'year']);

/**
 * Masks every table the rules name, in a server nobody else reaches (the mask server: no network).
 * Each table is rebuilt, never updated in place: dolly reads its key and the ruled values, writes
 * the masked values into a map keyed like the table, the server fills a copy of the table from the
 * table and the map, then the table is truncated (InnoDB makes its file new: the old pages, their
 * garbage and the old index entries go with the old file) and filled again from the copy. No
 * statement ever writes an original value, and no UPDATE or DELETE trigger fires; INSERT triggers
 * are set aside during the reload and made again as they were. The key never leaves dolly.
 * Runs with foreign key checks off (a parent is truncated while its children keep their rows).
 */
export async function applyMask(client: SqlClient, schema: SchemaInfo, rules: MaskRules, rootKey: Buffer, report: (line: string) => void = () => undefined): Promise<MaskResult> {
  await client.execute('SET SESSION foreign_key_checks = 0');
  await client.execute('SET SESSION unique_checks = 1');
  if (schema.flavor === 'mysql') await client.execute('SET SESSION information_schema_stats_expiry = 0');
  await client.execute(`DROP DATABASE IF EXISTS ${q(SCRATCH_DB)}`);
  await client.execute(`CREATE DATABASE ${q(SCRATCH_DB)}`);
  const result: MaskResult = { tables: 0, rows: 0, bytes: 0 };
  // One transform per rule and column shape for all tables: its memo then serves orders.email
  // with what users.email computed.
  const transforms = new Map<string, (value: string) => string>();
  const transformFor = (rule: ValueRule, shape: ColumnShape): ((value: string) => string) => {
    const id = canonicalJson({ rule, shape: { dataType: shape.dataType, maxLength: shape.maxLength, numericPrecision: shape.numericPrecision, numericScale: shape.numericScale, unsigned: shape.unsigned, collation: shape.collation } });
    let fn = transforms.get(id);
    if (fn === undefined) {
      fn = valueTransform(rule, shape, rootKey, schema.flavor);
      transforms.set(id, fn);
    }
    return fn;
  };
  let n = 0;
  for (const [name, tableRules] of Object.entries(rules.tables)) {
    if (Object.values(tableRules).every((r) => r.kind === 'keep')) continue;
    const table = schema.tables.get(name);
    if (table === undefined) throw new FailedPreconditionError(`${name}: no such table in the snapshot`, { hint: 'fix the rules (`dolly mask set`), then `dolly snapshot mask ID`' });
    n += 1;
    const started = Date.now();
    const { rows, bytes } = await maskTable(client, schema, table, tableRules, transformFor, n);
    result.tables += 1;
    result.rows += rows;
    result.bytes += bytes;
    report(`masked ${name}: ${rows} rows in ${Date.now() - started} ms`);
  }
  await client.execute(`DROP DATABASE ${q(SCRATCH_DB)}`);
  return result;
}

/**
 * Each `sql` rule must be one expression: no `;`, no comment, parentheses balanced outside quotes
 * (so it cannot close the statement it is put in); then `SELECT expr FROM table LIMIT 0` runs in a
 * read-only transaction. A failing expression is one line naming its column.
 */
export async function checkSqlRules(client: SqlClient, rules: MaskRules): Promise<void> {
  for (const [name, tableRules] of Object.entries(rules.tables)) {
    const { db, table } = splitTableName(name);
    for (const [column, rule] of Object.entries(tableRules)) {
      if (rule.kind !== 'sql') continue;
      const hint = "fix the expression in the rules file; it is evaluated for each row over the row's original columns";
      const problem = expressionProblem(rule.expression);
      if (problem !== null) throw new FailedPreconditionError(`${name}.${column}: the sql expression ${problem}`, { hint });
      await client.execute('START TRANSACTION READ ONLY');
      try {
        await client.query(`SELECT (${rule.expression}) FROM ${q(db)}.${q(table)} AS t LIMIT 0`);
      } catch (error) {
        throw new FailedPreconditionError(`${name}.${column}: the sql expression fails: ${firstLine(error)}`, { hint });
      } finally {
        await client.execute('ROLLBACK');
      }
    }
  }
}

/** Why `text` is not one SQL expression that stays inside its parentheses, or null. */
export function expressionProblem(text: string): string | null {
  let depth = 0;
  let quote: string | null = null;
  for (let k = 0; k < text.length; k += 1) {
    const c = text[k] ?? '';
    if (quote !== null) {
      if (c === '\\') k += 1;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth += 1;
    else if (c === ')' && (depth -= 1) < 0) return 'closes a parenthesis it did not open';
    else if (c === ';') return 'holds a ";" (one expression only)';
    else if (c === '#' || (c === '-' && text[k + 1] === '-') || (c === '/' && text[k + 1] === '*')) return 'holds a comment';
  }
  if (quote !== null) return 'has an unclosed quote';
  return depth === 0 ? null : 'leaves a parenthesis open';
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** The transform of a value rule for a column of this shape (one per rule and shape, shared by every table). */
type TransformFor = (rule: ValueRule, shape: ColumnShape) => (value: string) => string;

async function maskTable(client: SqlClient, schema: SchemaInfo, table: TableInfo, rules: Readonly<Record<string, Rule>>, transformFor: TransformFor, n: number): Promise<{ rows: number; bytes: number }> {
  const name = `${table.db}.${table.table}`;
  try {
    return await rebuildTable(client, schema, table, rules, transformFor, n);
  } catch (error) {
    // One line that says which table, and the step in the message the server gave.
    if (error instanceof DollyError && !error.message.startsWith(`${name}`)) throw new DollyError(error.category, `${name}${error instanceof ColumnError ? `.${error.column}` : ''}: ${error.message}`, { ...(error.hint !== undefined ? { hint: error.hint } : {}), cause: error });
    throw error;
  }
}

async function rebuildTable(client: SqlClient, schema: SchemaInfo, table: TableInfo, rules: Readonly<Record<string, Rule>>, transformFor: TransformFor, n: number): Promise<{ rows: number; bytes: number }> {
  const target = `${q(table.db)}.${q(table.table)}`;
  const name = `${table.db}.${table.table}`;
  const step = async (what: string, sql: string, params?: unknown[]): Promise<void> => {
    try {
      await client.execute(sql, params);
    } catch (error) {
      throw stepFailed(what, error);
    }
  };
  const keys = rowKey(table);
  if (keys === null) throw new FailedPreconditionError(`${name}: no primary key or unique key of NOT NULL integer, decimal, date/time or character columns`, { hint: 'add such a key on the source (masking rewrites rows by key), or remove its rules' });
  const columnOf = (c: string): ColumnInfo => {
    const found = table.columns.find((x) => x.name === c);
    if (!found) throw new FailedPreconditionError(`${name}.${c}: no such column in the snapshot`, { hint: 'fix the rules (`dolly mask set`), then `dolly snapshot mask ID`' });
    return found;
  };
  const [stats] = await client.query<{ ai: unknown }>('SELECT AUTO_INCREMENT AS ai FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [table.db, table.table]);
  // The table's file (data and indexes): what throughput is counted in (TABLES' lengths are estimates, 0 before the first statistics).
  const [file] = await client.query<{ bytes: unknown }>(
    schema.flavor === 'mariadb' ? 'SELECT FILE_SIZE AS bytes FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = ?' : 'SELECT FILE_SIZE AS bytes FROM information_schema.INNODB_TABLESPACES WHERE NAME = ?',
    [innodbName(table.db, table.table)],
  );
  const computed: Computed[] = [];
  const expressions = new Map<string, string>();
  for (const [column, rule] of Object.entries(rules)) {
    const info = columnOf(column);
    if (rule.kind === 'keep') continue;
    if (rule.kind === 'null') expressions.set(column, 'NULL');
    else if (rule.kind === 'constant') expressions.set(column, typeof rule.value === 'number' ? String(rule.value) : quoteString(rule.value));
    else if (rule.kind === 'sql') expressions.set(column, `(${rule.expression})`);
    else if (rule.kind === 'json') {
      let expr = `t.${q(column)}`;
      for (const [path, pathRule] of Object.entries(rule.paths)) {
        if (pathRule.kind === 'keep') continue;
        // NULL sets JSON null where the path is; a constant, that value (a number stays a number).
        if (pathRule.kind === 'null' || pathRule.kind === 'constant') {
          const value = pathRule.kind === 'null' ? 'NULL' : typeof pathRule.value === 'number' ? String(pathRule.value) : quoteString(pathRule.value);
          expr = `JSON_REPLACE(${expr}, ${quoteString(path)}, ${value})`;
          continue;
        }
        const m = `m.m_${computed.length}`;
        expr = `IF(${m} IS NULL, ${expr}, JSON_REPLACE(${expr}, ${quoteString(path)}, ${m}))`;
        computed.push({ column: info, path, fn: transformFor(pathRule, { ...info, dataType: 'varchar', maxLength: null }) });
      }
      expressions.set(column, expr);
    } else {
      expressions.set(column, `m.m_${computed.length}`);
      computed.push({ column: info, fn: transformFor(rule, info) });
    }
  }
  const keyInfo = keys.map(columnOf);
  const map = `${q(SCRATCH_DB)}.${q(`m_${n}`)}`;
  const stage = `${q(SCRATCH_DB)}.${q(`s_${n}`)}`;
  let rows = 0;
  if (computed.length > 0) {
    const keyDefs = keyInfo.map((c, i) => `k_${i} ${c.columnType}${c.collation ? ` COLLATE ${c.collation}` : ''} NOT NULL`);
    const valueDefs = computed.map((_, i) => `m_${i} LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`);
    await step('making the map', `CREATE TABLE ${map} (${[...keyDefs, ...valueDefs].join(', ')}, PRIMARY KEY (${keyInfo.map((_, i) => `k_${i}`).join(', ')})) ENGINE=InnoDB`);
    rows = await fillMap(client, target, keyInfo, computed, map);
  }
  const writable = table.columns.filter((c) => !c.generated).map((c) => c.name);
  const select = writable.map((c) => expressions.get(c) ?? `t.${q(c)}`).join(', ');
  const join = computed.length > 0 ? ` LEFT JOIN ${map} AS m ON ${keys.map((k, i) => `m.k_${i} = t.${q(k)}`).join(' AND ')}` : '';
  const list = writable.map((c) => q(c)).join(', ');
  await step('making the copy', `CREATE TABLE ${stage} LIKE ${target}`);
  await step('filling the masked copy', `INSERT INTO ${stage} (${list}) SELECT ${select} FROM ${target} AS t${join}`);
  if (computed.length === 0) {
    const [count] = await client.query<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${stage}`);
    rows = Number(count?.n ?? 0);
  }
  const triggers = await setAsideInsertTriggers(client, table);
  await step('emptying the table', `TRUNCATE TABLE ${target}`);
  await step('filling the table from the copy', `INSERT INTO ${target} (${list}) SELECT ${list} FROM ${stage}`);
  if (stats?.ai !== null && stats?.ai !== undefined) await client.execute(`ALTER TABLE ${target} AUTO_INCREMENT = ${BigInt(String(stats.ai)).toString()}`);
  await restoreTriggers(client, table.db, triggers);
  await dropStatistics(client, schema.flavor, table);
  await client.execute(`DROP TABLE ${stage}`);
  if (computed.length > 0) await client.execute(`DROP TABLE ${map}`);
  return { rows, bytes: Number(file?.bytes ?? 0) };
}

/** How a key column is read and compared: integers and decimals exactly, times as text, the rest as the driver gives them. */
function readKey(column: ColumnInfo): string {
  return temporalTypes.has(column.dataType) ? `CAST(t.${q(column.name)} AS CHAR)` : `t.${q(column.name)}`;
}

function keyLiteral(column: ColumnInfo, value: unknown, params: unknown[]): string {
  if ((integerTypes.has(column.dataType) || column.dataType === 'decimal') && /^-?\d+(\.\d+)?$/.test(String(value))) return String(value);
  params.push(value);
  return '?';
}

/**
 * `key > last` for a key of one or more columns, spelled out (`a > x OR (a = x AND b > y)`) so
 * that the server reads it as a range of the index (a row comparison is not one for MariaDB).
 */
function keyAfter(keyInfo: readonly ColumnInfo[], last: readonly unknown[], params: unknown[]): string {
  const terms: string[] = [];
  for (let i = 0; i < keyInfo.length; i += 1) {
    const parts = keyInfo.slice(0, i + 1).map((c, j) => `t.${q(c.name)} ${j === i ? '>' : '='} ${keyLiteral(c, last[j], params)}`);
    terms.push(parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' AND ')})`);
  }
  return terms.length === 1 ? (terms[0] ?? '') : `(${terms.join(' OR ')})`;
}

/** Reads the table by key in batches, computes the masked values and writes them into the map. */
async function fillMap(client: SqlClient, target: string, keyInfo: readonly ColumnInfo[], computed: readonly Computed[], map: string): Promise<number> {
  const keyCols = keyInfo.map((c) => `t.${q(c.name)}`);
  // A JSON path is read with its type: a value is masked; a missing path, JSON null and a boolean stay; an object or an array is refused.
  const reads = computed.map((c, i) => {
    if (c.path === undefined) return `CAST(t.${q(c.column.name)} AS CHAR) AS v_${i}`;
    const at = `JSON_EXTRACT(t.${q(c.column.name)}, ${quoteString(c.path)})`;
    return `JSON_UNQUOTE(${at}) AS v_${i}, JSON_TYPE(${at}) AS t_${i}`;
  });
  const select = [...keyInfo.map((c, i) => `${readKey(c)} AS k_${i}`), ...reads].join(', ');
  let last: unknown[] | null = null;
  let rows = 0;
  for (;;) {
    const params: unknown[] = [];
    const after: string = last === null ? '' : ` WHERE ${keyAfter(keyInfo, last, params)}`;
    const batch: Record<string, unknown>[] = await client.query<Record<string, unknown>>(`SELECT ${select} FROM ${target} AS t${after} ORDER BY ${keyCols.join(', ')} LIMIT ${BATCH}`, params).catch((error: unknown) => {
      throw stepFailed('reading the values to mask', error);
    });
    if (batch.length === 0) return rows;
    const values: unknown[] = [];
    for (const row of batch) {
      keyInfo.forEach((_, i) => values.push(row[`k_${i}`]));
      computed.forEach((c, i) => {
        const type = c.path === undefined ? null : String(row[`t_${i}`] ?? 'NULL');
        if (type === 'OBJECT' || type === 'ARRAY') {
          throw new ColumnError(`${c.column.name} ${c.path ?? ''}`, new FailedPreconditionError(`holds a JSON ${type.toLowerCase()} there, not a value`, { hint: 'rule the values inside it (`$.address.street`), or use `null`' }));
        }
        const v = type === 'NULL' || type === 'BOOLEAN' ? null : row[`v_${i}`];
        try {
          values.push(v === null || v === undefined ? null : c.fn(Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
        } catch (error) {
          throw error instanceof DollyError ? new ColumnError(`${c.column.name}${c.path !== undefined ? ` ${c.path}` : ''}`, error) : error;
        }
      });
    }
    const width = keyInfo.length + computed.length;
    const tuple = `(${Array.from({ length: width }, () => '?').join(', ')})`;
    await client.execute(`INSERT INTO ${map} VALUES ${batch.map(() => tuple).join(', ')}`, values).catch((error: unknown) => {
      throw stepFailed('writing the masked values', error);
    });
    rows += batch.length;
    const end: Record<string, unknown> | undefined = batch.at(-1);
    if (end === undefined) throw new InternalError('empty batch');
    last = keyInfo.map((_, i) => end[`k_${i}`]);
    if (batch.length < BATCH) return rows;
  }
}

/** An INSERT trigger as it was made: its statement and the session it was made in. */
interface SavedTrigger {
  name: string;
  statement: string;
  sqlMode: string;
}

/** Drops the table's INSERT triggers (the reload is not an insert of new rows) and returns them, in their firing order. */
async function setAsideInsertTriggers(client: SqlClient, table: TableInfo): Promise<SavedTrigger[]> {
  if (table.triggers.length === 0) return [];
  const rows = await client.query<{ name: unknown }>("SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? AND EVENT_MANIPULATION = 'INSERT' ORDER BY ACTION_TIMING, ACTION_ORDER", [table.db, table.table]);
  const saved: SavedTrigger[] = [];
  for (const r of rows) {
    const name = String(r.name);
    const [shown] = await client.query<Record<string, unknown>>(`SHOW CREATE TRIGGER ${q(table.db)}.${q(name)}`);
    if (!shown) throw new InternalError(`trigger ${table.db}.${name} vanished`);
    saved.push({ name, statement: String(shown['SQL Original Statement']), sqlMode: String(shown['sql_mode']) });
  }
  for (const t of saved) await client.execute(`DROP TRIGGER ${q(table.db)}.${q(t.name)}`);
  return saved;
}

/** Makes the set-aside triggers again, each in the database, SQL mode and character set it was made with. */
async function restoreTriggers(client: SqlClient, db: string, triggers: readonly SavedTrigger[]): Promise<void> {
  if (triggers.length === 0) return;
  const [mode] = await client.query<{ mode: unknown }>('SELECT @@SESSION.sql_mode AS mode');
  await client.execute(`USE ${q(db)}`);
  // The statement comes back from the server in this connection's character set (utf8mb4) and goes
  // back in it: a SET NAMES to the trigger's own would make the server read these bytes wrongly.
  for (const t of triggers) {
    await client.execute('SET SESSION sql_mode = ?', [t.sqlMode]);
    await client.execute(t.statement);
  }
  await client.execute('SET SESSION sql_mode = ?', [String(mode?.mode ?? '')]);
}

/**
 * Column statistics hold values (MariaDB's min/max and histograms in mysql.column_stats, MySQL's
 * histograms): the table's go. MariaDB's stats tables are Aria tables the after-prepare step
 * zero-fills; MySQL's histograms live in mysql.ibd (see the README: what masking does not cover).
 */
async function dropStatistics(client: SqlClient, flavor: SchemaInfo['flavor'], table: TableInfo): Promise<void> {
  if (flavor === 'mariadb') {
    for (const stats of ['column_stats', 'index_stats', 'table_stats']) await client.execute(`DELETE FROM mysql.${stats} WHERE db_name = ? AND table_name = ?`, [table.db, table.table]);
    return;
  }
  const rows = await client.query<{ c: unknown }>('SELECT COLUMN_NAME AS c FROM information_schema.COLUMN_STATISTICS WHERE SCHEMA_NAME = ? AND TABLE_NAME = ?', [table.db, table.table]);
  if (rows.length > 0) await client.execute(`ANALYZE TABLE ${q(table.db)}.${q(table.table)} DROP HISTOGRAM ON ${rows.map((r) => q(String(r.c))).join(', ')}`);
}

/**
 * A statement of the rebuild failed. The server's message can quote a value of the data (a
 * duplicate key, a value a rule's expression could not convert), and this error reaches logs and
 * callers who may not see the data: only the step and the server's error code are kept.
 */
function stepFailed(what: string, error: unknown): unknown {
  const info = describeSqlError(error);
  if (info === null) return error;
  const category = error instanceof DollyError ? error.category : 'command_failed';
  return new DollyError(category, `${what} failed: ${info.code}${info.errno !== null ? ` (${info.errno})` : ''}`, {
    hint: 'the server\'s own message may quote data and is not shown; run the rule\'s expression on an admin clone (`dolly clone create --unmasked --admin`) to see it',
  });
}

/** A value transform in dolly failed on a column's value (its message never holds the value). */
class ColumnError extends DollyError {
  constructor(
    readonly column: string,
    cause: DollyError,
  ) {
    super(cause.category, cause.message, { ...(cause.hint !== undefined ? { hint: cause.hint } : {}), cause });
  }
}
