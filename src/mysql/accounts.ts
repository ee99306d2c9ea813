import { messageOf } from '../errors.js';
import type { Flavor } from './flavor.js';
import { quoteAccount } from './identifiers.js';
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

/**
 * Copies the source's accounts (their password hashes and grants) into the replica, so that every
 * DEFINER of a view, routine, trigger or event resolves there. Later account changes reach the
 * replica by replication. A source user without the right to read other accounts (SELECT on
 * mysql.*) gets a problem back, not an error: the data copy is still good.
 */
export async function copyAccounts(source: SqlClient, target: SqlClient, flavor: Flavor, exclude: readonly string[]): Promise<AccountCopy> {
  const result: AccountCopy = { copied: [], problems: [] };
  let accounts: Account[];
  try {
    if (flavor === 'mysql') await source.execute('SET SESSION print_identified_with_as_hex = ON');
    accounts = await listAccounts(source, flavor, exclude);
  } catch (error) {
    result.problems.push(`the source's accounts could not be read (${messageOf(error)}); grant the source user SELECT ON mysql.* to copy them`);
    return result;
  }
  for (const account of accounts) {
    const name = quoteAccount(account.user, account.host);
    try {
      const create = await source.query('SHOW CREATE USER ' + name);
      const grants = await source.query('SHOW GRANTS FOR ' + name);
      const statements = [...create, ...grants].map((row) => String(Object.values(row)[0] ?? '')).filter((s) => s !== '');
      await target.execute('DROP USER IF EXISTS ' + name);
      for (const statement of statements) await target.execute(statement);
      result.copied.push(`${account.user}@${account.host}`);
    } catch (error) {
      result.problems.push(`${account.user}@${account.host}: ${messageOf(error)}`);
    }
  }
  return result;
}
