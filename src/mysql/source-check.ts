import { SourceError } from '../errors.js';
import { detectFlavor, flavorOps, type Flavor, type FlavorOps } from './flavor.js';
import { grantStatement, missingPrivileges, parseGrants } from './grants.js';
import { quoteAccount, splitAccount } from './identifiers.js';
import { isSqlError, type SqlClient } from './sql-client.js';

/** What dolly learned about a source it can replicate from. */
export interface SourceInfo {
  flavor: Flavor;
  version: string;
  serverId: number;
  binlogFormat: string;
  gtidEnabled: boolean;
  /** The account the source authenticated us as (CURRENT_USER()), `user@host`. */
  account: string;
  /** User databases to copy: the ones asked for, or every database but the system ones. */
  databases: string[];
  /** Tables the single-transaction dump cannot copy consistently (MyISAM, Aria, ...). */
  nonInnodbTables: { schema: string; table: string; engine: string }[];
  /** Data + index length of those databases (an estimate for the progress bar). */
  sizeBytes: number;
  /** Things that work but deserve a word (binlog format other than ROW on MariaDB). */
  warnings: string[];
}

export interface CheckSourceOptions {
  /** Databases to copy; all user databases when absent or empty. */
  databases?: string[];
}

/** Databases that belong to the server, never copied. */
export const SYSTEM_DATABASES: readonly string[] = ['mysql', 'information_schema', 'performance_schema', 'sys'];

interface Settings {
  log_bin: unknown;
  server_id: unknown;
  binlog_format: unknown;
  gtid_mode: unknown;
  enforce_gtid_consistency: unknown;
}

/**
 * Checks that dolly can copy and replicate from the source behind `client`: binary log on, a
 * server id, GTIDs (MySQL), row-based binlog (MySQL; MariaDB: MIXED/STATEMENT only warn, since
 * MIXED is MariaDB's default and GTID replication handles it), the privileges the dump and the
 * replication need, and the databases. Each failure is a SourceError with a one-line message and
 * a hint saying what to run.
 */
export async function checkSource(client: SqlClient, opts: CheckSourceOptions = {}): Promise<SourceInfo> {
  const [identity] = await client.query<{ version: string; account: string }>('SELECT VERSION() AS version, CURRENT_USER() AS account');
  if (!identity) throw new SourceError('the source did not answer SELECT VERSION()');
  const flavor = detectFlavor(identity.version);
  const ops = flavorOps(flavor);
  const [settings] = await client.query<Settings>(ops.sourceSettingsSql);
  if (!settings) throw new SourceError('the source did not report its settings');
  const warnings = [...checkSettings(ops, settings), ...(await dependencyWarnings(client, ops))];

  const existing = (await client.query<{ name: string }>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME')).map((r) => r.name);
  const databases = chooseDatabases(existing, opts.databases);

  const grantRows = await client.query('SHOW GRANTS');
  const grants = parseGrants(grantRows.map((row) => String(Object.values(row)[0] ?? '')));
  const missing = missingPrivileges(grants, ops.requiredPrivileges(identity.version), databases);
  if (missing.length > 0) {
    const { user, host } = splitAccount(identity.account);
    const statement = grantStatement(missing, user, host);
    throw new SourceError(`the source user ${quoteAccount(user, host)} lacks ${missing.map((m) => m.grant).join(', ')}; run on the source: ${statement}`, {
      hint: 'then run dolly again; the database-level ones (SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES) may be granted ON db.* instead',
    });
  }

  const tables = await client.query<{ schema: string; table: string; engine: string | null }>(
    "SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS `table`, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (?) AND (ENGINE IS NULL OR ENGINE <> 'InnoDB') ORDER BY TABLE_SCHEMA, TABLE_NAME",
    [databases],
  );
  const [size] = await client.query<{ bytes: unknown }>(
    'SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?)',
    [databases],
  );
  return {
    flavor,
    version: identity.version,
    serverId: Number(settings.server_id),
    binlogFormat: String(settings.binlog_format).toUpperCase(),
    gtidEnabled: !ops.requiresGtidMode || String(settings.gtid_mode).toUpperCase() === 'ON',
    account: identity.account,
    databases,
    nonInnodbTables: tables.map((t) => ({ schema: t.schema, table: t.table, engine: t.engine ?? 'unknown' })),
    sizeBytes: Number(size?.bytes ?? 0),
    warnings,
  };
}

/** Throws for a setting replication cannot live with; returns warnings for the ones it can. */
function checkSettings(ops: FlavorOps, s: Settings): string[] {
  if (!isOn(s.log_bin)) {
    throw new SourceError('the source has no binary log (log_bin is OFF)', {
      hint: 'start the source with --log-bin and --server-id=<unique number> (in my.cnf: log_bin and server_id under [mysqld]) and restart it',
    });
  }
  if (Number(s.server_id) === 0) {
    throw new SourceError('the source has server_id 0, which replication refuses', {
      hint: 'give it a unique id: SET PERSIST server_id = 1 (MySQL) or server_id=1 in my.cnf and a restart (MariaDB)',
    });
  }
  if (ops.requiresGtidMode && String(s.gtid_mode).toUpperCase() !== 'ON') {
    throw new SourceError(`the source has gtid_mode=${String(s.gtid_mode)}, dolly replicates by GTID`, {
      hint: 'switch it on step by step: enforce_gtid_consistency=ON, gtid_mode=OFF_PERMISSIVE, ON_PERMISSIVE, ON (see the MySQL manual, "Enabling GTID Transactions Online")',
    });
  }
  if (ops.requiresGtidMode && String(s.enforce_gtid_consistency).toUpperCase() !== 'ON') {
    throw new SourceError(`the source has enforce_gtid_consistency=${String(s.enforce_gtid_consistency)}`, {
      hint: 'SET PERSIST enforce_gtid_consistency = ON (after checking WARN mode shows no violations)',
    });
  }
  const format = String(s.binlog_format).toUpperCase();
  if (format === 'ROW') return [];
  if (ops.nonRowFormat === 'error') {
    throw new SourceError(`the source logs in ${format} format, dolly needs ROW`, { hint: 'SET PERSIST binlog_format = ROW (new sessions use it)' });
  }
  return [`the source logs in ${format} format: replication works, but statements that are not deterministic may apply differently; ROW is safest (binlog_format=ROW)`];
}

/**
 * A MySQL 8.0 source that marks dependencies by commit order only lets the replica's workers apply
 * together what it committed together: with writesets they apply far more. (8.4+: no such
 * variable, writesets always.)
 */
async function dependencyWarnings(client: SqlClient, ops: FlavorOps): Promise<string[]> {
  if (ops.dependencyTrackingSql === null) return [];
  const tracking = await client.query<{ tracking: unknown }>(ops.dependencyTrackingSql).then(
    (rows) => String(rows[0]?.tracking ?? '').toUpperCase(),
    (error: unknown) => {
      if (isSqlError(error, 1193)) return 'WRITESET'; // ER_UNKNOWN_SYSTEM_VARIABLE: 8.4+
      throw error;
    },
  );
  if (tracking !== 'COMMIT_ORDER') return [];
  return ['the source marks transaction dependencies by commit order: the replica applies in parallel only what the source committed together; SET PERSIST binlog_transaction_dependency_tracking = WRITESET on the source lets it apply far more at once'];
}

function isOn(value: unknown): boolean {
  return value === 1 || value === '1' || String(value).toUpperCase() === 'ON';
}

/** The databases to copy: each asked-for one must exist; otherwise every non-system one. */
function chooseDatabases(existing: readonly string[], wanted: readonly string[] | undefined): string[] {
  const user = existing.filter((d) => !SYSTEM_DATABASES.includes(d.toLowerCase()));
  if (!wanted || wanted.length === 0) {
    if (user.length === 0) throw new SourceError('the source has no user databases to copy', { hint: 'create one, or check that the user may see it (SHOW DATABASES)' });
    return user;
  }
  for (const db of wanted) {
    if (SYSTEM_DATABASES.includes(db.toLowerCase())) throw new SourceError(`${db} is a system database; dolly copies user databases only`, { hint: `choose from: ${list(user)}` });
    if (!existing.includes(db)) throw new SourceError(`database ${db} does not exist on the source (or the user cannot see it)`, { hint: `databases there: ${list(user)}` });
  }
  return [...new Set(wanted)];
}

function list(names: readonly string[]): string {
  if (names.length === 0) return '(none)';
  return names.length > 20 ? `${names.slice(0, 20).join(', ')}, ... (${names.length} in all)` : names.join(', ');
}
