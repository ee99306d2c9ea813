import { messageOf } from '../errors.js';
import type { Flavor } from './flavor.js';
import { quoteAccount, quoteString } from './identifiers.js';
import type { SqlClient } from './sql-client.js';

/** Accounts that are the server's own: never copied from a source, never changed in a snapshot. */
export const SERVER_ACCOUNTS = new Set(['root@localhost', 'mariadb.sys@localhost', 'mysql.sys@localhost', 'mysql.session@localhost', 'mysql.infoschema@localhost', 'PUBLIC@']);

export interface Account {
  user: string;
  host: string;
}

/** The accounts of a server that are not its own (roles excluded on MariaDB: they have no login). */
export async function listAccounts(client: SqlClient, flavor: Flavor, exclude: readonly string[] = []): Promise<Account[]> {
  const sql = flavor === 'mariadb' ? "SELECT User AS user, Host AS host FROM mysql.user WHERE is_role <> 'Y' ORDER BY User, Host" : 'SELECT User AS user, Host AS host FROM mysql.user ORDER BY User, Host';
  const rows = await client.query<{ user: unknown; host: unknown }>(sql);
  return rows
    .map((r) => ({ user: String(r.user), host: String(r.host) }))
    .filter((a) => !SERVER_ACCOUNTS.has(`${a.user}@${a.host}`) && !exclude.includes(a.user));
}

export interface AccountCopy {
  /** `user@host` of every account copied. */
  copied: string[];
  /** Why some (or all) could not be copied, for a warning. */
  problems: string[];
}

/** MariaDB's roles (they have no login, so no SHOW CREATE USER); none on MySQL, where a role is an account. */
async function listRoles(client: SqlClient, flavor: Flavor): Promise<string[]> {
  if (flavor !== 'mariadb') return [];
  const rows = await client.query<{ user: unknown }>("SELECT User AS user FROM mysql.user WHERE is_role = 'Y' AND User <> 'PUBLIC' ORDER BY User");
  return rows.map((r) => String(r.user));
}

/**
 * Makes MariaDB's roles of the source, empty, in the replica before a logical copy loads: a view
 * or routine whose DEFINER is a role is dumped as `DEFINER=role` (no host), which a server that
 * has no such role reads as `role@'%'`, an account that never exists. `copyAccounts` gives them
 * their grants afterwards. Returns the roles made; none on MySQL (a role is an account with a host).
 */
export async function createRoles(source: SqlClient, target: SqlClient, flavor: Flavor): Promise<string[]> {
  const roles = await listRoles(source, flavor);
  for (const role of roles) await target.execute(`CREATE ROLE IF NOT EXISTS ${quoteString(role)}`);
  return roles;
}

/** The first column of every row: the statements SHOW CREATE USER and SHOW GRANTS print. */
function statementsOf(rows: readonly Record<string, unknown>[]): string[] {
  return rows.map((row) => String(Object.values(row)[0] ?? '')).filter((s) => s !== '');
}

/**
 * Copies the source's accounts and roles (their credentials, grants, role grants and default
 * roles) into the replica, so that every DEFINER of a view, routine, trigger or event resolves
 * there. Every account and role is made first, then every grant, so a role exists before it is
 * granted; a creation that needs another account first (MySQL's DEFAULT ROLE) is tried again at
 * the end. Later account changes reach the replica by replication. A source user without the
 * right to read other accounts (SELECT on mysql.*) gets a problem back, not an error: the data
 * copy is still good.
 */
export async function copyAccounts(source: SqlClient, target: SqlClient, flavor: Flavor, exclude: readonly string[]): Promise<AccountCopy> {
  const result: AccountCopy = { copied: [], problems: [] };
  let accounts: Account[];
  let roles: string[];
  try {
    if (flavor === 'mysql') await source.execute('SET SESSION print_identified_with_as_hex = ON');
    accounts = await listAccounts(source, flavor, exclude);
    roles = (await listRoles(source, flavor)).filter((r) => !exclude.includes(r));
  } catch (error) {
    result.problems.push(`the source's accounts could not be read (${messageOf(error)}); grant the source user SELECT ON mysql.* to copy them`);
    return result;
  }
  type Item = { key: string; create: string[]; drop: string; grants: string[] };
  const items: Item[] = [];
  for (const role of roles) {
    try {
      const grants = statementsOf(await source.query('SHOW GRANTS FOR ' + quoteString(role)));
      items.push({ key: role, drop: `DROP ROLE IF EXISTS ${quoteString(role)}`, create: [`CREATE ROLE ${quoteString(role)}`], grants });
    } catch (error) {
      result.problems.push(`role ${role}: ${messageOf(error)}`);
    }
  }
  for (const account of accounts) {
    const name = quoteAccount(account.user, account.host);
    try {
      const create = statementsOf(await source.query('SHOW CREATE USER ' + name));
      const grants = statementsOf(await source.query('SHOW GRANTS FOR ' + name));
      items.push({ key: `${account.user}@${account.host}`, drop: 'DROP USER IF EXISTS ' + name, create, grants });
    } catch (error) {
      result.problems.push(`${account.user}@${account.host}: ${messageOf(error)}`);
    }
  }
  const made: Item[] = [];
  let pending = items;
  for (let pass = 0; pass < 2 && pending.length > 0; pass += 1) {
    const failed: Item[] = [];
    for (const item of pending) {
      try {
        await target.execute(item.drop);
        for (const statement of item.create) await target.execute(statement);
        made.push(item);
      } catch (error) {
        if (pass === 0) failed.push(item);
        else result.problems.push(`${item.key}: ${messageOf(error)}`);
      }
    }
    pending = failed;
  }
  for (const item of made) {
    try {
      for (const statement of item.grants) await target.execute(statement);
      result.copied.push(item.key);
    } catch (error) {
      result.problems.push(`${item.key}: ${messageOf(error)}`);
    }
  }
  return result;
}
