import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { flavorOps, serverFlavor, type Flavor } from '../mysql/flavor.js';
import { connectSql, type SqlClient } from '../mysql/sql-client.js';
import type { Replica } from '../state/state.js';
import type { DataMount } from '../storage/driver.js';
import { prepareRunDir, removeRunDir, type EngineDeps } from './context.js';
import { generateServerId } from './names.js';
import { accountInitSql, prepareCommand } from './server-config.js';
import { replicaConnectOptions, waitUntilAnswering } from './servers.js';

/** Accounts that are dolly's or the server's own; every other account is locked in a snapshot. */
const KEEP_UNLOCKED = new Set(['root@localhost', 'mariadb.sys@localhost', 'mysql.sys@localhost', 'mysql.session@localhost', 'mysql.infoschema@localhost', 'PUBLIC@']);

/** The temporary server that prepares a snapshot volume. */
export function prepareServerName(volume: string): string {
  return `prepare-${volume}`;
}

/**
 * Prepares a raw (crash-consistent) snapshot volume once, so clones start clean: a temporary
 * server without networking runs crash recovery, drops the replica state (it holds the source's
 * replication password), locks every account copied from the source and dolly's admin account,
 * and shuts down cleanly. Returns the milliseconds it took.
 */
export async function prepareSnapshot(deps: EngineDeps, volume: string, data: DataMount, replica: Pick<Replica, 'admin_user' | 'admin_password' | 'source'>, image: string, signal?: AbortSignal): Promise<number> {
  const started = Date.now();
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
      command: prepareCommand(serverFlavor(flavor), generateServerId()),
      network: 'none',
    });
    const connect = { ...replicaConnectOptions(deps.root, replica), socketPath: join(dir, 'mysqld.sock') };
    await waitUntilAnswering(deps, server, connect, signal);
    const client = await connectSql({ ...connect, queryTimeoutMs: 120_000 });
    try {
      await cleanReplicaState(client, flavor, replica.admin_user);
    } finally {
      await client.close();
    }
    await deps.runtime.stop(server, 600);
    const code = await deps.runtime.waitExit(server, 600_000);
    if (code !== 0) deps.logger.warn('prepare server exited with a non-zero code after shutdown', { code });
    // Files a clone must not inherit (MySQL's auto.cnf holds the server_uuid: each clone makes its own).
    if (data.kind === 'path') for (const file of flavorOps(flavor).cloneRemoveFiles) await rm(join(data.path, file), { force: true });
    return Date.now() - started;
  } finally {
    await removeRunDir(deps.root, server).catch(() => undefined);
  }
}

async function cleanReplicaState(client: SqlClient, flavor: Flavor, adminUser: string): Promise<void> {
  const ops = flavorOps(flavor);
  for (const sql of ops.resetReplicaAll()) await client.execute(sql);
  const accounts = await client.query<{ User: string; Host: string }>('SELECT User, Host FROM mysql.user');
  for (const account of accounts) {
    if (KEEP_UNLOCKED.has(`${account.User}@${account.Host}`) && account.User !== adminUser) continue;
    await client.execute('ALTER USER ?@? ACCOUNT LOCK', [account.User, account.Host]);
  }
}
