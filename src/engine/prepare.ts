import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { readAccountTables, restoreAccountTables, type AccountTables } from '../mysql/account-tables.js';
import { flavorOps, type Flavor } from '../mysql/flavor.js';
import { readStoredAccounts, scrubAccounts, type ScrubResult } from '../mysql/account-scrub.js';
import { rotateUndoTablespaces } from '../mysql/undo-rotate.js';
import { connectSql, type SqlClient } from '../mysql/sql-client.js';
import type { Replica } from '../state/state.js';
import type { DataMount } from '../storage/driver.js';
import { CommandFailedError, FailedPreconditionError, messageOf } from '../errors.js';
import { prepareRunDir, removeRunDir, runDir, type EngineDeps } from './context.js';
import { generatePassword, generateServerId } from './names.js';
import { accountInitSql } from './server-config.js';
import { CLONE_USER, replicaConnectOptions, waitUntilAnswering } from './servers.js';


/**
 * Where a prepared snapshot's account tables are kept (re-keyed: no production credential), so a
 * branch of it can be given them back: ROOT/accounts/VOLUME.json, 0600.
 */
export function accountTablesPath(root: string, volume: string): string {
  return join(root, 'accounts', `${volume}.json`);
}

/** A snapshot's account tables, as its prepare recorded them. */
export async function readSnapshotAccountTables(root: string, volume: string, id: string): Promise<AccountTables> {
  try {
    return JSON.parse(await readFile(accountTablesPath(root, volume), 'utf8')) as AccountTables;
  } catch {
    throw new FailedPreconditionError(`snapshot ${id} has no record of its account tables (taken by an older dolly): a branch of it cannot be given them back`, {
      hint: 'take a new snapshot (`dolly snapshot create`) and reset the clone to it (`dolly clone reset NAME --snapshot ID`)',
    });
  }
}

/** The temporary server that prepares a snapshot volume. */
export function prepareServerName(volume: string): string {
  return `prepare-${volume}`;
}

/**
 * Prepares a raw (crash-consistent) snapshot volume once, so clones start clean: a temporary
 * server without networking runs crash recovery, drops the replica state (it holds the source's
 * replication password), gives every account copied from the source a new random password and
 * locks it, locks dolly's admin account, and shuts down cleanly. Returns the milliseconds it took
 * and the accounts (`user@host`) a clone may be given with `--user`.
 *
 * A branch passes its `parent` snapshot's login accounts and account tables: the branch gets the
 * parent's account tables back (so no account, role or grant its clone's user made or changed
 * survives), and views, routines, triggers and events whose definer the branch does not keep are
 * dropped, each with a warning in the log. Every prepared snapshot's account tables are recorded
 * (accountTablesPath) for its own branches.
 */
export async function prepareSnapshot(deps: EngineDeps, volume: string, data: DataMount, replica: Pick<Replica, 'admin_user' | 'admin_password' | 'source'>, image: string, signal?: AbortSignal, parent?: BranchOf, options: Pick<PrepareServerOptions, 'slowShutdown' | 'args' | 'extraMounts' | 'queryTimeoutMs' | 'serverId'> & { before?: (client: SqlClient) => Promise<void> } = {}): Promise<{ ms: number; accounts: string[]; privileged_accounts: string[]; tls_accounts: string[] }> {
  const started = Date.now();
  const flavor: Flavor = replica.source.flavor;
  const { before, ...serverOptions } = options;
  const accounts = await withPrepareServer(deps, { volume, data, replica, image, ...(signal ? { signal } : {}), ...serverOptions }, async (client) => {
    if (before) await before(client);
    const found = await cleanReplicaState(client, flavor, replica.admin_user, parent, deps.store.require().settings.clone_tls !== false);
    for (const warning of found.warnings) deps.logger.warn(`prepare: ${warning}`, { volume });
    const path = accountTablesPath(deps.root, volume);
    await mkdir(join(deps.root, 'accounts'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, JSON.stringify(await readAccountTables(client, flavor)), { mode: 0o600 });
    return found;
  });
  return { ms: Date.now() - started, accounts: accounts.accounts, privileged_accounts: accounts.privileged, tls_accounts: accounts.tls };
}

/** A prepare-role server's options beyond the volume: more server flags, its own after-step. */
export interface PrepareServerOptions {
  volume: string;
  data: DataMount;
  replica: Pick<Replica, 'admin_user' | 'admin_password' | 'source'>;
  image: string;
  signal?: AbortSignal;
  args?: readonly string[];
  afterShell?: string;
  /** End with a slow shutdown (purge done, undo empty) whatever the flavor's custom: masking's servers need it (src/mysql/residue.ts). */
  slowShutdown?: boolean;
  /** Each statement of `body` fails after this long (default 120 s; masking rewrites whole tables). */
  queryTimeoutMs?: number;
  /** More pool directories the server sees (a replay's relay logs). */
  extraMounts?: readonly { path: string; target: string }[];
  /** The server's id (default: a random one). */
  serverId?: number;
}

/**
 * Runs `body` in a temporary server on a snapshot volume (no network: socket only; no binlog,
 * no replication, no events), then ends it cleanly: undo emptied (MySQL), a slow shutdown
 * where the flavor needs one, SHUTDOWN, and the after-prepare step in the datadir once it exited.
 * dolly's admin account is unlocked for the body by the run directory's init file.
 */
export async function withPrepareServer<T>(deps: EngineDeps, options: PrepareServerOptions, body: (client: SqlClient) => Promise<T>): Promise<T> {
  const { volume, data, replica, image, signal } = options;
  const flavor: Flavor = replica.source.flavor;
  const server = prepareServerName(volume);
  const dir = await prepareRunDir(deps.root, server, accountInitSql(replica.admin_user, ['localhost'], replica.admin_password));
  try {
    await deps.runtime.start({
      name: server,
      kind: 'prepare',
      image,
      volume,
      data,
      runDir: dir,
      server: { flavor, serverId: options.serverId ?? generateServerId(), role: 'prepare', ...(options.args ? { args: options.args } : {}), ...(options.afterShell !== undefined ? { afterShell: options.afterShell } : {}) },
      network: 'none',
      ...(options.extraMounts ? { extraMounts: options.extraMounts } : {}),
    });
    const connect = { ...replicaConnectOptions(deps.root, replica), socketPath: join(dir, 'mysqld.sock') };
    await waitUntilAnswering(deps, server, connect, signal);
    const client = await connectSql({ ...connect, queryTimeoutMs: options.queryTimeoutMs ?? 120_000 });
    let result: T;
    try {
      result = await body(client).catch(async (error: unknown) => {
        // A server that died under the body says why in its error log (gone with its run dir after this).
        const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
        deps.logger.error('prepare server: its work failed', { server, error: messageOf(error), log: log.split('\n').filter((l) => /\[(ERROR|Warning)\]|signal|Assertion/i.test(l)).slice(-8) });
        throw error;
      });
      // Replaced rows live on in undo until it is truncated; then a clean shutdown by statement,
      // after which the container's shell runs the after-prepare step.
      if (flavorOps(flavor).rotatesUndo) await rotateUndoTablespaces(client, generateServerId().toString(36));
      for (const sql of flavorOps(flavor).prepareShutdownSql) await client.execute(sql);
      if (options.slowShutdown === true) await client.execute('SET GLOBAL innodb_fast_shutdown = 0');
      await client.execute('SHUTDOWN').catch(async (error: unknown) => {
        deps.logger.warn('prepare server: SHUTDOWN failed; stopping its container', { error: messageOf(error) });
        await deps.runtime.stop(server, 60);
      });
    } finally {
      await client.close();
    }
    const code = await deps.runtime.waitExit(server, 3_600_000);
    if (code !== 0) {
      const log = await readFile(join(runDir(deps.root, server), 'error.log'), 'utf8').catch(() => '');
      throw new CommandFailedError('the prepare server', code, `${await deps.runtime.logs(server, 5)}\n${log.split('\n').slice(-5).join('\n')}`.trim());
    }
    // Files a clone must not inherit (MySQL's auto.cnf holds the server_uuid: each clone makes its own).
    if (data.kind === 'path') for (const file of flavorOps(flavor).cloneRemoveFiles) await rm(join(data.path, file), { force: true });
    // The replica's relay logs (received, maybe not applied: a base point's run past its point): no clone needs them.
    if (data.kind === 'path') for (const file of await readdir(data.path)) if (/(^|-)relay-bin\.(\d+|index)$/.test(file)) await rm(join(data.path, file), { force: true });
    return result;
  } finally {
    await removeRunDir(deps.root, server).catch(() => undefined);
  }
}

/** What a branch is prepared against: its parent snapshot's login accounts and account tables. */
export interface BranchOf {
  accounts: readonly string[];
  tables: AccountTables;
}

async function cleanReplicaState(client: SqlClient, flavor: Flavor, adminUser: string, parent: BranchOf | undefined, clonesServeTls: boolean): Promise<ScrubResult> {
  const ops = flavorOps(flavor);
  for (const sql of ops.resetReplicaAll()) await client.execute(sql);
  // A branch's accounts, roles and grants are its parent's again, whatever its clone's user did.
  const dropped: string[] = [];
  if (parent !== undefined) {
    const before = await readStoredAccounts(client, flavor);
    await restoreAccountTables(client, parent.tables);
    const after = new Set((await readStoredAccounts(client, flavor)).map((a) => `${a.user}@${a.host}`));
    for (const a of before) if (!after.has(`${a.user}@${a.host}`)) dropped.push(`${a.user}@${a.host} dropped: it is not an account of the branch's parent snapshot`);
  }
  // Production's credentials never reach a clone: every account (server accounts included) gets a
  // new random password nobody knows and is locked; a clone made with --user NAME unlocks NAME
  // with its own password. Read from the server's own table, never from a view the data can redefine.
  // A branch is scrubbed against its parent's accounts (see scrubAccounts).
  const result = await scrubAccounts(client, flavor, adminUser, () => generatePassword(24), { clonesServeTls, ...(parent === undefined ? {} : { parent: { accounts: parent.accounts, cloneUser: CLONE_USER } }) });
  return { ...result, warnings: [...dropped, ...result.warnings] };
}
