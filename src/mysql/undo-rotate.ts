import { UnavailableError } from '../errors.js';
import { quoteIdentifier, quoteString } from './identifiers.js';
import type { SqlClient } from './sql-client.js';

/** How long one undo tablespace may take to be emptied and truncated by the purge threads. */
const EMPTY_TIMEOUT_MS = 120_000;

/**
 * MySQL keeps the before-image of every changed row (a replaced password hash, a deleted
 * replication password) in its undo tablespaces until they are truncated; truncating one
 * re-creates its file. This empties and truncates every active undo tablespace once: two
 * temporary ones take the undo logs while the others are set inactive, truncated and set active
 * again, then the temporary ones are truncated and dropped. Run after prepare's changes and before
 * a slow shutdown (MySQL needs two active undo tablespaces at all times).
 */
export async function rotateUndoTablespaces(client: SqlClient, suffix: string): Promise<void> {
  const rows = await client.query<{ name: unknown }>("SELECT NAME AS name FROM information_schema.INNODB_TABLESPACES WHERE SPACE_TYPE = 'Undo' AND STATE = 'active'");
  const originals = rows.map((r) => String(r.name));
  const temporary = [`dolly_undo_a_${suffix}`, `dolly_undo_b_${suffix}`];
  for (const name of temporary) await client.execute(`CREATE UNDO TABLESPACE ${quoteIdentifier(name)} ADD DATAFILE ${quoteString(`${name}.ibu`)}`);
  await truncate(client, originals);
  await truncate(client, temporary);
  for (const name of temporary) await client.execute(`DROP UNDO TABLESPACE ${quoteIdentifier(name)}`);
}

/** Sets `names` inactive, waits until the purge threads emptied them, sets the originals active again. */
async function truncate(client: SqlClient, names: readonly string[]): Promise<void> {
  for (const name of names) await client.execute(`ALTER UNDO TABLESPACE ${quoteIdentifier(name)} SET INACTIVE`);
  const started = Date.now();
  for (;;) {
    const rows = await client.query<{ name: unknown; state: unknown }>("SELECT NAME AS name, STATE AS state FROM information_schema.INNODB_TABLESPACES WHERE SPACE_TYPE = 'Undo'");
    const waiting = rows.filter((r) => names.includes(String(r.name)) && String(r.state) !== 'empty');
    if (waiting.length === 0) break;
    if (Date.now() - started > EMPTY_TIMEOUT_MS) throw new UnavailableError(`undo tablespace ${String(waiting[0]?.name)} was not truncated within ${EMPTY_TIMEOUT_MS / 1000} s`, { hint: 'the prepare server is overloaded; take the snapshot again' });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  for (const name of names) if (!name.startsWith('dolly_undo_')) await client.execute(`ALTER UNDO TABLESPACE ${quoteIdentifier(name)} SET ACTIVE`);
}
