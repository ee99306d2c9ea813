import type { Flavor } from '../mysql/flavor.js';
import type { SqlClient } from '../mysql/sql-client.js';
import type { ColumnInfo, ForeignKeyInfo, IndexInfo, SchemaInfo, TableInfo } from './schema-types.js';

/** The server's own databases: never masked, never examined. */
export const SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys', 'dolly_mask'];

/** `db.table`, the form a rules file names tables by. */
export function tableKey(db: string, table: string): string {
  return `${db}.${table}`;
}

/** A database or table name as InnoDB spells it in its dictionary (`a@002db` for `a-b`). */
export function innodbName(db: string, table: string): string {
  const encode = (name: string): string => [...name].map((c) => (/^[A-Za-z0-9_]$/.test(c) ? c : `@${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`)).join('');
  return `${encode(db)}/${encode(table)}`;
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The base tables of the server's user databases (or only `databases`), with their columns,
 * unique indexes, foreign keys, triggers and where InnoDB keeps them: read from information_schema
 * and InnoDB's dictionary tables, never from anything a user's data can redefine.
 */
export async function readSchemaInfo(client: SqlClient, flavor: Flavor, databases?: readonly string[]): Promise<SchemaInfo> {
  const system = SYSTEM_DATABASES.map(() => '?').join(', ');
  const only = databases === undefined ? '' : ` AND TABLE_SCHEMA IN (${databases.map(() => '?').join(', ') || "''"})`;
  const params = [...SYSTEM_DATABASES, ...(databases ?? [])];
  const where = (column: string): string => `${column} NOT IN (${system})${only.replaceAll('TABLE_SCHEMA', column)}`;

  const tableRows = await client.query(`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, ENGINE AS engine, TABLE_TYPE AS type FROM information_schema.TABLES WHERE ${where('TABLE_SCHEMA')} AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_SCHEMA, TABLE_NAME`, params);
  const columnRows = await client.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, IS_NULLABLE AS nullable,
       CHARACTER_MAXIMUM_LENGTH AS max_length, NUMERIC_PRECISION AS num_precision, NUMERIC_SCALE AS num_scale, COLLATION_NAME AS collation,
       COALESCE(GENERATION_EXPRESSION, '') AS generation
     FROM information_schema.COLUMNS WHERE ${where('TABLE_SCHEMA')} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    params,
  );
  const indexRows = await client.query(`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS t, INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE ${where('TABLE_SCHEMA')} ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, params);
  const fkRows = await client.query(
    `SELECT CONSTRAINT_NAME AS name, TABLE_SCHEMA AS db, TABLE_NAME AS t, COLUMN_NAME AS col, REFERENCED_TABLE_SCHEMA AS ref_db, REFERENCED_TABLE_NAME AS ref_t, REFERENCED_COLUMN_NAME AS ref_col
     FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_NAME IS NOT NULL AND TABLE_SCHEMA NOT IN (${system}) ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
    SYSTEM_DATABASES,
  );
  const triggerRows = await client.query(`SELECT EVENT_OBJECT_SCHEMA AS db, EVENT_OBJECT_TABLE AS t, TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE ${where('EVENT_OBJECT_SCHEMA')}`, params);
  const jsonChecks = flavor === 'mariadb'
    ? await client.query(`SELECT CONSTRAINT_SCHEMA AS db, TABLE_NAME AS t, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE ${where('CONSTRAINT_SCHEMA')}`, params)
    : [];
  const spaces = flavor === 'mariadb'
    ? await client.query("SELECT NAME AS name, IF(SPACE <> 0, 'Single', 'System') AS type FROM information_schema.INNODB_SYS_TABLES")
    : await client.query('SELECT t.NAME AS name, s.SPACE_TYPE AS type FROM information_schema.INNODB_TABLES t JOIN information_schema.INNODB_TABLESPACES s ON s.SPACE = t.SPACE');
  const spaceOf = new Map(spaces.map((r) => [str(r['name']), str(r['type'])]));

  const group = <R extends Record<string, unknown>>(rows: readonly R[]): Map<string, R[]> => {
    const out = new Map<string, R[]>();
    for (const r of rows) {
      const key = tableKey(str(r['db']), str(r['t']));
      out.set(key, [...(out.get(key) ?? []), r]);
    }
    return out;
  };
  const columnsBy = group(columnRows);
  const indexesBy = group(indexRows);
  const triggersBy = group(triggerRows);
  const checksBy = group(jsonChecks);

  const tables = new Map<string, TableInfo>();
  for (const row of tableRows) {
    const db = str(row['db']);
    const table = str(row['t']);
    const key = tableKey(db, table);
    const clauses = (checksBy.get(key) ?? []).map((r) => str(r['clause']).toLowerCase());
    const columns: ColumnInfo[] = (columnsBy.get(key) ?? []).map((r) => {
      const name = str(r['name']);
      const dataType = str(r['data_type']).toLowerCase();
      const columnType = str(r['column_type']).toLowerCase();
      return {
        name,
        dataType,
        columnType,
        nullable: str(r['nullable']) === 'YES',
        maxLength: num(r['max_length']),
        numericPrecision: num(r['num_precision']),
        numericScale: num(r['num_scale']),
        unsigned: /\bunsigned\b/.test(columnType),
        collation: r['collation'] === null || r['collation'] === undefined ? null : str(r['collation']),
        generated: str(r['generation']) !== '',
        json: dataType === 'json' || clauses.some((c) => c.replaceAll(' ', '') === `json_valid(\`${name.toLowerCase()}\`)`),
      };
    });
    const byIndex = new Map<string, IndexInfo>();
    for (const r of indexesBy.get(key) ?? []) {
      const name = str(r['name']);
      const seen = byIndex.get(name);
      byIndex.set(name, { name, primary: name === 'PRIMARY', unique: Number(r['non_unique']) === 0, columns: [...(seen?.columns ?? []), str(r['col'])] });
    }
    const space = spaceOf.get(innodbName(db, table)) ?? spaceOf.get(`${db}/${table}`);
    tables.set(key, {
      db,
      table,
      engine: str(row['engine']),
      columns,
      indexes: [...byIndex.values()],
      ownTablespace: space === 'Single',
      systemVersioned: str(row['type']) === 'SYSTEM VERSIONED',
      triggers: (triggersBy.get(key) ?? []).map((r) => str(r['name'])),
    });
  }

  const fks = new Map<string, ForeignKeyInfo>();
  for (const r of fkRows) {
    const id = `${tableKey(str(r['db']), str(r['t']))}/${str(r['name'])}`;
    const seen = fks.get(id);
    fks.set(id, {
      name: str(r['name']),
      table: tableKey(str(r['db']), str(r['t'])),
      columns: [...(seen?.columns ?? []), str(r['col'])],
      refTable: tableKey(str(r['ref_db']), str(r['ref_t'])),
      refColumns: [...(seen?.refColumns ?? []), str(r['ref_col'])],
    });
  }
  return { flavor, tables, foreignKeys: [...fks.values()] };
}

/** Key types masking can page through exactly: ordered as compared, equal only when equal (no FLOAT, ENUM, SET, TEXT, BLOB, JSON). */
const KEY_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'date', 'datetime', 'timestamp', 'time', 'year', 'char', 'varchar', 'binary', 'varbinary']);

/**
 * The columns masking identifies a table's rows by: the primary key, else the first unique index
 * of NOT NULL columns, whose columns are all of a type it can page through (KEY_TYPES); null if none.
 */
export function rowKey(table: TableInfo): readonly string[] | null {
  const usable = new Set(table.columns.filter((c) => !c.nullable && KEY_TYPES.has(c.dataType)).map((c) => c.name));
  const fits = (index: { primary: boolean; unique: boolean; columns: readonly string[] }): boolean => (index.primary || index.unique) && index.columns.every((c) => usable.has(c));
  return (table.indexes.find((i) => i.primary && fits(i)) ?? table.indexes.find(fits))?.columns ?? null;
}
