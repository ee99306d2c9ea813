/**
 * What masking knows of a server's schema (read from information_schema by src/mask/schema-info.ts):
 * enough to check a rules file against it and to rebuild the tables it names.
 */

export interface ColumnInfo {
  name: string;
  /** information_schema.COLUMNS.DATA_TYPE, lower case (`varchar`, `int`, `date`, `json`, `longtext`). */
  dataType: string;
  /** COLUMN_TYPE, lower case (`varchar(255)`, `int(10) unsigned`, `decimal(10,2)`). */
  columnType: string;
  nullable: boolean;
  /** CHARACTER_MAXIMUM_LENGTH (characters) for strings, else null. */
  maxLength: number | null;
  numericPrecision: number | null;
  numericScale: number | null;
  unsigned: boolean;
  /** COLLATION_NAME for strings, else null. */
  collation: string | null;
  /** A generated (virtual or stored) column: its value is computed, never masked. */
  generated: boolean;
  /** Holds JSON: MySQL's JSON type, or MariaDB's JSON alias (LONGTEXT with a JSON_VALID check). */
  json: boolean;
}

export interface IndexInfo {
  name: string;
  primary: boolean;
  unique: boolean;
  columns: readonly string[];
}

export interface ForeignKeyInfo {
  name: string;
  /** `db.table` of the child (the referencing table). */
  table: string;
  columns: readonly string[];
  /** `db.table` of the parent (the referenced table). */
  refTable: string;
  refColumns: readonly string[];
}

export interface TableInfo {
  db: string;
  table: string;
  engine: string;
  columns: readonly ColumnInfo[];
  indexes: readonly IndexInfo[];
  /** In a tablespace of its own (file per table): a rebuild frees its old pages with its file. */
  ownTablespace: boolean;
  /** MariaDB's system-versioned table: it keeps every old row version. */
  systemVersioned: boolean;
  /** Its triggers' names. */
  triggers: readonly string[];
}

export interface SchemaInfo {
  flavor: 'mariadb' | 'mysql';
  /** `db.table` → the table. */
  tables: ReadonlyMap<string, TableInfo>;
  foreignKeys: readonly ForeignKeyInfo[];
}
