/**
 * How a parallel copy divides the source's tables between dump sessions (pure: no I/O).
 *
 * `mariadb-dump --where` applies one condition to every table of one invocation, so a session
 * can only take a range of one primary-key column. The plan therefore picks the **split group**:
 * the InnoDB tables whose primary key is one integer column of the same name (usually `id`), the
 * name whose tables hold the most data. Each of the N sessions dumps one range of that column
 * over all of them (ranges cut from the group's largest table, the first open below and the last
 * open above, so every row falls in exactly one range, rows written later included). One more
 * session dumps every other table whole.
 */
import { quoteIdentifier } from './identifiers.js';

/** One base table of the source, as `information_schema` describes it. */
export interface TableStat {
  schema: string;
  table: string;
  engine: string;
  /** Data and index bytes (InnoDB's estimate). */
  bytes: number;
  /** The primary key's column when it is a single integer column; null otherwise. */
  intKey: string | null;
}

export interface CopyPlan {
  /** The split group's key column, null when no table can be split. */
  column: string | null;
  /** Tables dumped in ranges of `column` (one session per range). */
  split: TableStat[];
  /** Tables dumped whole by one more session. */
  whole: TableStat[];
  /** The table whose key range sets the ranges (the group's largest). */
  rangeTable: TableStat | null;
}

/** The fewest bytes a group must hold to be worth splitting (below it one stream is as fast). */
export const MIN_SPLIT_BYTES = 16 * 1024 * 1024;

/** Chooses the split group: the integer-key column name whose InnoDB tables hold the most bytes. */
export function planCopy(tables: readonly TableStat[]): CopyPlan {
  const byColumn = new Map<string, TableStat[]>();
  for (const t of tables) {
    if (t.intKey === null || t.engine.toLowerCase() !== 'innodb') continue;
    byColumn.set(t.intKey, [...(byColumn.get(t.intKey) ?? []), t]);
  }
  let best: { column: string; tables: TableStat[]; bytes: number } | null = null;
  for (const [column, group] of byColumn) {
    const bytes = group.reduce((sum, t) => sum + t.bytes, 0);
    if (bytes >= MIN_SPLIT_BYTES && (best === null || bytes > best.bytes)) best = { column, tables: group, bytes };
  }
  if (best === null) return { column: null, split: [], whole: [...tables], rangeTable: null };
  const chosen = new Set(best.tables);
  const rangeTable = [...best.tables].sort((a, b) => b.bytes - a.bytes)[0] ?? null;
  return { column: best.column, split: best.tables, whole: tables.filter((t) => !chosen.has(t)), rangeTable };
}

/**
 * The `--where` conditions of `sessions` ranges of `column` between `min` and `max` (decimal
 * strings: BIGINT UNSIGNED does not fit a JS number). Together they cover every integer once.
 */
export function rangeConditions(column: string, min: string, max: string, sessions: number): string[] {
  if (!Number.isInteger(sessions) || sessions < 1) throw new RangeError(`sessions must be a positive integer, not ${sessions}`);
  const col = quoteIdentifier(column);
  const lo = BigInt(min);
  const span = BigInt(max) - lo + 1n;
  const bounds: bigint[] = [];
  for (let i = 1; i < sessions; i += 1) {
    const b = lo + (span * BigInt(i)) / BigInt(sessions);
    if (b > (bounds.at(-1) ?? lo)) bounds.push(b);
  }
  if (bounds.length === 0) return ['1=1'];
  const where: string[] = [`${col} < ${bounds[0]}`];
  for (let i = 1; i < bounds.length; i += 1) where.push(`${col} >= ${bounds[i - 1]} AND ${col} < ${bounds[i]}`);
  where.push(`${col} >= ${bounds.at(-1)}`);
  return where;
}
