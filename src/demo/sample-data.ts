import { quoteIdentifier, sqlInteger } from '../mysql/identifiers.js';
import type { SqlClient } from '../mysql/sql-client.js';

export interface SampleDataOptions {
  database: string;
  /** About how many bytes of InnoDB data (rows and indexes) to make. */
  bytes: number;
  /** Bytes made so far (estimated), after each batch. */
  onProgress?: (bytes: number) => void;
  /** The server's flavor (default mariadb): MySQL has no sequence engine and no MD5(). */
  flavor?: 'mariadb' | 'mysql';
}

/** Bytes one order row takes on disk with its share of the indexes (measured on 10.11: ~265). */
const ORDER_ROW_BYTES = 265;
const CUSTOMER_ROW_BYTES = 200;
const BATCH_ROWS = 20_000;

/**
 * Fills `database` with about `bytes` of realistic InnoDB data, fast: `customers` and `orders`
 * with secondary indexes, rows of ~200 bytes, made server-side by INSERT ... SELECT from
 * MariaDB's sequence engine (`seq_1_to_N`) in batches; on MySQL from a helper table of 1..N made
 * once by a recursive CTE (and dropped at the end).
 */
/** Returns the rows made and the database's size on disk afterwards (from fresh statistics). */
export async function fillSampleData(sql: SqlClient, opts: SampleDataOptions): Promise<{ rows: number; bytes: number }> {
  const db = quoteIdentifier(opts.database);
  await sql.execute(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await sql.execute(
    `CREATE TABLE IF NOT EXISTS ${db}.customers (id INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, ` +
      'email VARCHAR(96) NOT NULL, city VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL, KEY email (email), KEY city (city)) ENGINE=InnoDB',
  );
  await sql.execute(
    `CREATE TABLE IF NOT EXISTS ${db}.orders (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, customer_id INT UNSIGNED NOT NULL, ` +
      'status VARCHAR(16) NOT NULL, amount DECIMAL(10,2) NOT NULL, note VARCHAR(200) NOT NULL, created_at DATETIME NOT NULL, ' +
      'KEY customer (customer_id), KEY created (created_at)) ENGINE=InnoDB',
  );
  const mysql = opts.flavor === 'mysql';
  if (mysql) {
    await sql.execute('SET SESSION cte_max_recursion_depth = 1000000');
    await sql.execute(`CREATE TABLE IF NOT EXISTS ${db}.dolly_seq (n INT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=InnoDB`);
    await sql.execute(`INSERT IGNORE INTO ${db}.dolly_seq (n) WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${BATCH_ROWS}) SELECT n FROM s`);
  }
  /** The integers from..to as a row source with one column `seq`. */
  const sequence = (from: number, to: number): string =>
    mysql
      ? `(SELECT n + ${sqlInteger(from - 1, 'sequence start')} AS seq FROM ${db}.dolly_seq WHERE n <= ${sqlInteger(to - from + 1, 'sequence length')}) AS s`
      : `${db}.seq_${sqlInteger(from, 'sequence start')}_to_${sqlInteger(to, 'sequence end')}`;
  const hash = (expr: string): string => (mysql ? `LEFT(SHA2(${expr}, 256), 32)` : `MD5(${expr})`);
  const customers = Math.max(1, Math.min(100_000, Math.floor(opts.bytes / 10 / CUSTOMER_ROW_BYTES)));
  let made = 0;
  let rows = 0;
  for (let from = 1; from <= customers; from += BATCH_ROWS) {
    const to = Math.min(customers, from + BATCH_ROWS - 1);
    await sql.execute(
      `INSERT IGNORE INTO ${db}.customers (id, name, email, city, created_at) ` +
        "SELECT seq, CONCAT('Customer ', seq), CONCAT('user', seq, '@example.com'), ELT(1 + seq % 5, 'Berlin', 'Lisbon', 'Oslo', 'Riga', 'Turin'), " +
        `NOW() - INTERVAL (seq % 31536000) SECOND FROM ${sequence(from, to)}`,
    );
    rows += to - from + 1;
    made += (to - from + 1) * CUSTOMER_ROW_BYTES;
    opts.onProgress?.(made);
  }
  let seq = 1;
  while (made < opts.bytes) {
    const count = Math.max(1, Math.min(BATCH_ROWS, Math.ceil((opts.bytes - made) / ORDER_ROW_BYTES)));
    await sql.execute(
      `INSERT INTO ${db}.orders (customer_id, status, amount, note, created_at) ` +
        `SELECT 1 + seq % ${sqlInteger(customers, 'customers')}, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'cancelled'), (seq % 100000) / 100, ` +
        `RPAD(${hash('seq')}, 150, ${hash('seq * 7')}), NOW() - INTERVAL (seq % 31536000) SECOND FROM ${sequence(seq, seq + count - 1)}`,
    );
    seq += count;
    rows += count;
    made += count * ORDER_ROW_BYTES;
    opts.onProgress?.(Math.min(made, opts.bytes));
  }
  if (mysql) await sql.execute(`DROP TABLE ${db}.dolly_seq`);
  // Fresh statistics, so information_schema (and a source check) sees the real size at once.
  await sql.query(`ANALYZE TABLE ${db}.customers, ${db}.orders`);
  const [size] = await sql.query<{ bytes: unknown }>(
    'SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
    [opts.database],
  );
  return { rows, bytes: Number(size?.bytes ?? made) };
}
