/**
 * Masking rules, as dolly holds them once the rules file (`dolly mask set rules.yaml`) is parsed
 * (src/mask/rules.ts). A rules file names tables (`db.table`) and, in each, columns with the rule
 * that replaces their values in every masked snapshot.
 */

/** Transforms computed in dolly from a keyed secret: deterministic, and each keeps its value's form. */
export const VALUE_TRANSFORMS = ['email', 'name', 'phone', 'address', 'text', 'card', 'iban', 'digits'] as const;
export type ValueTransform = (typeof VALUE_TRANSFORMS)[number];

/** Transforms that are one-to-one by construction (format-preserving encryption): the only ones a unique key may have. */
export const ONE_TO_ONE: ReadonlySet<string> = new Set(['keep', 'email', 'phone', 'digits', 'card', 'iban']);

export type Rule =
  /** The value stays. */
  | { kind: 'keep' }
  /** The value becomes NULL (a nullable column only). */
  | { kind: 'null' }
  /** Every value becomes this constant. */
  | { kind: 'constant'; value: string | number }
  /** A SQL expression over the row's columns, evaluated by the server for each row. */
  | { kind: 'sql'; expression: string }
  /** A keyed per-value offset of at most `days` days either way (DATE, DATETIME, TIMESTAMP). */
  | { kind: 'date_shift'; days: number }
  /** A keyed per-value offset of at most `percent` % of the value, or at most `abs`, clamped to the type (numeric columns). */
  | { kind: 'noise'; percent?: number; abs?: number }
  /**
   * A keyed transform that keeps the value's form. `domain` keeps a separate mapping space (the
   * same input in two domains masks differently); `keep_prefix` keeps that many leading
   * characters (digits for phone, digits and card: a card keeps its first 6 by default).
   */
  | { kind: ValueTransform; domain?: string; keep_prefix?: number }
  /** Values inside a JSON document, by path (`$.contact.email`); the rest of the document stays. */
  | { kind: 'json'; paths: Readonly<Record<string, ValueRule>> };

/** A rule a JSON path may have: a value rule (not `json` or `sql`). */
export type ValueRule = Exclude<Rule, { kind: 'json' } | { kind: 'sql' }>;

/** Rules for one table: column name → rule. */
export type TableRules = Readonly<Record<string, Rule>>;

/** A whole rules file: `db.table` → its columns' rules. */
export interface MaskRules {
  tables: Readonly<Record<string, TableRules>>;
}

/** `db.table` split in two (a database or table name has no dot in a rules file's key). */
export function splitTableName(name: string): { db: string; table: string } {
  const dot = name.indexOf('.');
  return { db: name.slice(0, dot), table: name.slice(dot + 1) };
}
