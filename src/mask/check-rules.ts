/**
 * The checks of a rules file against a server's schema (schema-info.ts), run before anything is
 * written: every table and column exists, each rule fits its column's type and keys, each ruled
 * table can be rebuilt, and both ends of a foreign key have the same rule.
 */
import { FailedPreconditionError } from '../errors.js';
import { ONE_TO_ONE, type MaskRules, type Rule } from './rule.js';
import { rowKey } from './schema-info.js';
import type { ColumnInfo, SchemaInfo, TableInfo } from './schema-types.js';
import { compare, editDistance, stableJson } from './strings.js';

const DATE_TYPES = new Set(['date', 'datetime', 'timestamp']);
const NUMERIC_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);

function fail(table: string, column: string, message: string, hint: string): never {
  throw new FailedPreconditionError(`${table}.${column}: ${message}`, { hint });
}

/**
 * Checks the rules against a server's schema, in a stable order (tables, then columns, sorted; then
 * foreign keys), before anything is written. Throws FailedPreconditionError on the first problem, one
 * line starting with `db.table.column: `. `sql` expressions are left to the server.
 */
export function checkRules(rules: MaskRules, schema: SchemaInfo): void {
  for (const tableName of Object.keys(rules.tables).sort(compare)) {
    const cols = rules.tables[tableName] ?? {};
    const names = Object.keys(cols).sort(compare);
    const info = schema.tables.get(tableName);
    if (info === undefined) {
      const near = [...schema.tables.keys()].find((k) => k.toLowerCase() === tableName.toLowerCase());
      fail(tableName, names[0] ?? '', `table ${tableName} does not exist`, near === undefined ? 'fix the table\'s name in the rules, or remove its rules' : `did you mean ${near}? names are case-sensitive`);
    }
    for (const name of names) checkColumn(tableName, info, name, cols[name] ?? { kind: 'keep' });
    const ruled = names.find((n) => cols[n]?.kind !== 'keep');
    if (ruled !== undefined) checkTable(tableName, info, ruled);
  }
  checkForeignKeys(rules, schema);
}

function checkColumn(tableName: string, info: TableInfo, name: string, rule: Rule): void {
  const column = info.columns.find((c) => c.name === name);
  if (column === undefined) {
    const near = info.columns.find((c) => c.name.toLowerCase() === name.toLowerCase() || editDistance(c.name, name) <= 2);
    fail(tableName, name, `column ${name} does not exist in ${tableName}`, near === undefined ? 'fix the column\'s name in the rules, or remove its rule' : `did you mean ${near.name}?`);
  }
  if (rule.kind === 'keep') return;
  if (column.generated) fail(tableName, name, 'a generated column is computed from other columns, never masked', 'remove its rule, and give the columns it is computed from rules');
  const misfit = typeMisfit(rule, column);
  if (misfit !== null) fail(tableName, name, misfit.message, misfit.hint);
  const keys = info.indexes.filter((i) => (i.primary || i.unique) && i.columns.includes(name));
  if (rule.kind === 'null') {
    if (keys.some((i) => i.primary)) fail(tableName, name, 'primary key: a key column cannot be NULL', 'use keep, email, phone, digits, card or iban on key columns');
    if (!column.nullable) fail(tableName, name, 'null on a NOT NULL column', 'use a constant or a transform instead');
    return;
  }
  const key = keys[0];
  if (key !== undefined && !ONE_TO_ONE.has(rule.kind)) fail(tableName, name, `${key.primary ? 'primary key' : `unique key ${key.name}`}: "${rule.kind}" is not one-to-one`, 'use keep, email, phone, digits, card or iban on unique columns');
}

function typeMisfit(rule: Rule, column: ColumnInfo): { message: string; hint: string } | null {
  const type = column.dataType;
  const misfit = (fits: string) => ({ message: `"${rule.kind}" does not fit a ${column.columnType} column`, hint: `${rule.kind} fits ${fits}` });
  switch (rule.kind) {
    case 'date_shift':
      return DATE_TYPES.has(type) ? null : misfit('DATE, DATETIME and TIMESTAMP columns');
    case 'noise':
      return NUMERIC_TYPES.has(type) ? null : misfit('integer, DECIMAL, FLOAT and DOUBLE columns');
    case 'json':
      return column.json ? null : misfit('JSON columns');
    case 'constant':
      if (typeof rule.value === 'string' && NUMERIC_TYPES.has(type)) return { message: `a text constant does not fit a ${column.columnType} column`, hint: 'write a number: {constant: 0}' };
      if (typeof rule.value === 'string' && column.maxLength !== null && [...rule.value].length > column.maxLength) return { message: `a constant of ${[...rule.value].length} characters does not fit ${column.columnType}`, hint: 'use a shorter constant' };
      return null;
    case 'keep':
    case 'null':
    case 'sql':
      return null;
    default:
      if (column.json) return { message: `"${rule.kind}" would break the JSON documents of this column`, hint: `mask values inside it: {json: {"$.path": ${rule.kind}}}` };
      return TEXT_TYPES.has(type) ? null : misfit('CHAR, VARCHAR and TEXT columns');
  }
}

function checkTable(tableName: string, info: TableInfo, column: string): void {
  if (info.engine.toLowerCase() !== 'innodb') fail(tableName, column, `${tableName} uses the ${info.engine} engine: masking rebuilds InnoDB tables only`, 'convert it on the source (ALTER TABLE … ENGINE=InnoDB), or remove its rules');
  if (info.systemVersioned) fail(tableName, column, `${tableName} is system-versioned: it keeps every old row version`, 'remove system versioning on the source, or remove its rules');
  if (!info.ownTablespace) fail(tableName, column, `${tableName} is not in a tablespace of its own: its old pages would stay in a shared file`, 'rebuild it on the source with innodb_file_per_table=ON (ALTER TABLE … FORCE), or remove its rules');
  if (rowKey(info) === null) fail(tableName, column, `${tableName} has no primary key or unique key of NOT NULL integer, decimal, date/time or character columns`, 'add such a key on the source (masking rewrites rows by key), or remove its rules');
}

function checkForeignKeys(rules: MaskRules, schema: SchemaInfo): void {
  const ruleOf = (table: string, column: string): Rule => rules.tables[table]?.[column] ?? { kind: 'keep' };
  const fks = [...schema.foreignKeys].sort((a, b) => compare(a.table, b.table) || compare(a.name, b.name));
  for (const fk of fks) {
    fk.columns.forEach((child, i) => {
      const parent = fk.refColumns[i] ?? '';
      const childRule = ruleOf(fk.table, child);
      if (childRule.kind === 'null' && schema.tables.get(fk.table)?.columns.find((c) => c.name === child)?.nullable === true) return;
      const parentRule = ruleOf(fk.refTable, parent);
      if (stableJson(childRule) === stableJson(parentRule)) return;
      fail(fk.table, child, `foreign key ${fk.name} to ${fk.refTable}.${parent}: ${describeRule(childRule)} here, ${describeRule(parentRule)} there`, 'give both ends of a foreign key the same rule (null is allowed on a nullable child column)');
    });
  }
}

function describeRule(rule: Rule): string {
  const { kind, ...rest } = rule;
  const args = Object.keys(rest).length === 0 ? '' : ` ${JSON.stringify(rest).slice(0, 60)}`;
  return `"${kind}"${args}`;
}
