import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { accountInitSql } from '../../engine/server-config.js';
import { generatePassword } from '../../engine/names.js';
import { ADMIN_USER } from '../../engine/servers.js';
import type { Logger } from '../../log.js';
import type { PoolModel } from '../model.js';

/** dolly's admin account of the Swarm replica (kept 0600 under the pool's root). */
export interface ReplicaAdmin {
  admin_user: string;
  admin_password: string;
}

const ADMIN_FILE = 'swarm-replica.json';

/**
 * Makes the replica's datadir and run directory on the pool node and writes its init file (dolly's
 * admin account), before the replica service starts. Works where the pool's paths are reachable:
 * on the pool node itself, or on the host of the sandbox, which shares them with its pool node.
 * Returns false (and says why) when they are not.
 */
export async function prepareReplicaPaths(pool: PoolModel, logger: Logger): Promise<ReplicaAdmin | null> {
  if (!existsSync(pool.root)) {
    logger.warn('the pool root is not on this machine: make the replica paths on the pool node yourself', { root: pool.root, node: pool.node });
    return null;
  }
  await mkdir(pool.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(pool.runDir, { recursive: true, mode: 0o700 });
  const file = join(pool.root, ADMIN_FILE);
  const admin: ReplicaAdmin = existsSync(file)
    ? (JSON.parse(await readFile(file, 'utf8')) as ReplicaAdmin)
    : { admin_user: ADMIN_USER, admin_password: generatePassword() };
  await writeFile(file, `${JSON.stringify(admin)}\n`, { mode: 0o600 });
  await writeFile(join(pool.runDir, 'init.sql'), accountInitSql(admin.admin_user, ['localhost', '127.0.0.1'], admin.admin_password), { mode: 0o600 });
  return admin;
}
