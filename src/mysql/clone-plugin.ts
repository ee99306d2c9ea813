import { FailedPreconditionError, SourceError, messageOf } from '../errors.js';
import { normalizeGtid } from './replication.js';
import { quoteString } from './identifiers.js';
import { isSqlError, type SqlClient } from './sql-client.js';
import type { SourceInfo } from './source-check.js';

/** Where the recipient reaches the donor, and as whom (the source's account). */
export interface CloneDonor {
  host: string;
  port: number;
  user: string;
  password: string;
  tls: boolean;
  /** With `tls`: the CA file (a path inside the recipient's container) the donor's certificate must chain to (`clone_ssl_ca`). */
  caFile?: string;
}

/** What the clone copied and where replication starts: the donor's GTID set at the clone's instant. */
export interface CloneOutcome {
  gtid: string;
  bytes: number;
  binlog: { file: string; position: number };
}

/** ER_CLONE_... "Restart server failed (mysqld is not managed by supervisor process)": the clone itself succeeded. */
const NO_SUPERVISOR = 3707;

/**
 * Checks the source as a CLONE donor, before anything is made: MySQL, the clone plugin active,
 * BACKUP_ADMIN for the account, and only InnoDB tables (CLONE copies InnoDB alone: a MyISAM or
 * CSV table would arrive empty, so it is refused rather than lost quietly).
 */
export async function checkCloneDonor(client: SqlClient, info: Pick<SourceInfo, 'flavor' | 'version' | 'nonInnodbTables'>, user: string): Promise<void> {
  if (info.flavor !== 'mysql') {
    throw new FailedPreconditionError(`--method clone is MySQL's CLONE plugin; the source is MariaDB ${info.version}`, { hint: 'use --method backup (mariadb-backup) or --method dump' });
  }
  const [plugin] = await client.query<{ status: string }>("SELECT PLUGIN_STATUS AS status FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone'");
  if (plugin?.status !== 'ACTIVE') {
    throw new SourceError(`the source has no active clone plugin${plugin ? ` (it is ${plugin.status})` : ''}`, { hint: "on the source: INSTALL PLUGIN clone SONAME 'mysql_clone.so' (or use --method dump)" });
  }
  const grants = (await client.query<Record<string, unknown>>('SHOW GRANTS')).map((row) => String(Object.values(row)[0] ?? '')).join('\n');
  if (!/\bBACKUP_ADMIN\b/.test(grants) && !/GRANT ALL PRIVILEGES ON \*\.\*/.test(grants)) {
    throw new SourceError(`the source account ${user} lacks BACKUP_ADMIN, which a CLONE donor needs`, { hint: `on the source: GRANT BACKUP_ADMIN ON *.* TO ${user} (or use --method dump)` });
  }
  if (info.nonInnodbTables.length > 0) {
    const names = info.nonInnodbTables.slice(0, 3).map((t) => `${t.schema}.${t.table} (${t.engine})`);
    throw new FailedPreconditionError(`CLONE copies only InnoDB: ${info.nonInnodbTables.length} table(s) would arrive empty, e.g. ${names.join(', ')}`, { hint: 'convert them to InnoDB on the source, or use --method dump' });
  }
}

/**
 * Runs `CLONE INSTANCE FROM` on the empty replica (the recipient): its datadir is replaced by a
 * physical copy of the donor's, streamed by the donor's server, and the recipient shuts down
 * (no supervisor restarts it in a container: the caller does). Both sides must run the same
 * release. The password travels only inside the statement, which MySQL keeps out of its logs.
 */
export async function cloneFromDonor(recipient: SqlClient, donor: CloneDonor, donorVersion: string): Promise<void> {
  const [own] = await recipient.query<{ version: string }>('SELECT VERSION() AS version');
  if (own?.version !== donorVersion) {
    throw new FailedPreconditionError(`CLONE needs the same MySQL release on both sides: the source runs ${donorVersion}, the replica's image ${own?.version ?? 'unknown'}`, { hint: 'build the image from the source\'s release, or use --method dump' });
  }
  const [plugin] = await recipient.query<{ status: string }>("SELECT PLUGIN_STATUS AS status FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone'");
  if (!plugin) await recipient.execute("INSTALL PLUGIN clone SONAME 'mysql_clone.so'");
  await recipient.execute(`SET GLOBAL clone_valid_donor_list = ${quoteString(`${donor.host}:${donor.port}`)}`);
  // The donor's certificate must chain to this CA (MySQL checks the chain only, not the host name).
  if (donor.tls && donor.caFile !== undefined) await recipient.execute(`SET GLOBAL clone_ssl_ca = ${quoteString(donor.caFile)}`);
  const from = `${quoteString(donor.user)}@${quoteString(donor.host)}:${Math.trunc(donor.port)}`;
  try {
    await recipient.execute(`CLONE INSTANCE FROM ${from} IDENTIFIED BY ${quoteString(donor.password)} REQUIRE ${donor.tls ? '' : 'NO '}SSL`);
  } catch (error) {
    if (isSqlError(error, NO_SUPERVISOR)) return;
    throw new SourceError(`CLONE INSTANCE from ${donor.host}:${donor.port} failed: ${messageOf(error)}`, { hint: 'see the source\'s error log; --method dump works without the plugin', cause: error });
  }
}

/** After the recipient restarted: what the clone recorded (performance_schema keeps it across the restart). */
export async function cloneOutcome(client: SqlClient): Promise<CloneOutcome> {
  const [status] = await client.query<{ state: string; gtid: string | null; file: string | null; position: number | null; error: string | null }>(
    'SELECT STATE AS state, GTID_EXECUTED AS gtid, BINLOG_FILE AS file, BINLOG_POSITION AS position, ERROR_MESSAGE AS error FROM performance_schema.clone_status',
  );
  if (status?.state !== 'Completed') {
    throw new SourceError(`the clone did not complete (${status?.state ?? 'no clone recorded'}${status?.error ? `: ${status.error}` : ''})`, { hint: 'see the replica\'s error log; --method dump works without the plugin' });
  }
  const [progress] = await client.query<{ bytes: number | string | null }>('SELECT SUM(DATA) AS bytes FROM performance_schema.clone_progress');
  return { gtid: normalizeGtid(status.gtid ?? ''), bytes: Number(progress?.bytes ?? 0), binlog: { file: status.file ?? '', position: Number(status.position ?? 0) } };
}
