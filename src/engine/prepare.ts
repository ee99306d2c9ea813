import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { flavorOps, serverFlavor, type Flavor } from '../mysql/flavor.js';
import { listAccounts } from '../mysql/accounts.js';
import { connectSql, type SqlClient } from '../mysql/sql-client.js';
import type { Replica } from '../state/state.js';
import type { DataMount } from '../storage/driver.js';
import { prepareRunDir, removeRunDir, type EngineDeps } from './context.js';
import { generatePassword, generateServerId } from './names.js';
import { accountInitSql, prepareCommand } from './server-config.js';
import { replicaConnectOptions, waitUntilAnswering } from './servers.js';


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
 */
export async function prepareSnapshot(deps: EngineDeps, volume: string, data: DataMount, replica: Pick<Replica, 'admin_user' | 'admin_password' | 'source'>, image: string, signal?: AbortSignal): Promise<{ ms: number; accounts: string[] }> {
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
    let accounts: string[];
    try {
      accounts = await cleanReplicaState(client, flavor, replica.admin_user);
    } finally {
      await client.close();
    }
    await deps.runtime.stop(server, 600);
    const code = await deps.runtime.waitExit(server, 600_000);
    if (code !== 0) deps.logger.warn('prepare server exited with a non-zero code after shutdown', { code });
    // Files a clone must not inherit (MySQL's auto.cnf holds the server_uuid: each clone makes its own).
    if (data.kind === 'path') for (const file of flavorOps(flavor).cloneRemoveFiles) await rm(join(data.path, file), { force: true });
    return { ms: Date.now() - started, accounts };
  } finally {
    await removeRunDir(deps.root, server).catch(() => undefined);
  }
}

async function cleanReplicaState(client: SqlClient, flavor: Flavor, adminUser: string): Promise<string[]> {
  const ops = flavorOps(flavor);
  for (const sql of ops.resetReplicaAll()) await client.execute(sql);
  // Production's password hashes never reach a clone: every account copied from the source gets a
  // new random password nobody knows and is locked (it still resolves as a DEFINER); dolly's admin
  // is locked too. A clone made with --user NAME unlocks NAME with its own password.
  const accounts = await listAccounts(client, flavor, [adminUser]);
  for (const account of accounts) {
    await client.execute('ALTER USER ?@? IDENTIFIED BY ? ACCOUNT LOCK', [account.user, account.host, generatePassword(24)]);
  }
  for (const host of ['localhost', '127.0.0.1']) {
    await client.execute(`ALTER USER IF EXISTS ?@? ACCOUNT LOCK`, [adminUser, host]);
  }
  return accounts.map((a) => `${a.user}@${a.host}`);
}
