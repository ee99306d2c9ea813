import { quoteAccount, quoteString } from '../mysql/identifiers.js';

/**
 * What a clone's user may do by default: anything to the data of every database but `mysql`
 * (DML, DDL, databases, views, routines, triggers, events, locks, temporary tables), read `mysql`,
 * and see its own server's sessions (PROCESS); never write `mysql` (accounts, routines' definers,
 * the account views), never FILE, SUPER-class admin rights, replication, user management or GRANT
 * OPTION. Neither server has partial revokes here and a LIKE pattern cannot leave one name out,
 * so it is two database-level grants: the server takes the first matching database grant, and an
 * exact name sorts before every pattern, so `mysql`'s SELECT-only grant wins over `%`'s.
 */
export const CLONE_PRIVILEGES: AccountPrivileges = {
  global: ['PROCESS', 'SHOW DATABASES'],
  anyDatabase: [
    'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER',
    'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE',
    'ALTER ROUTINE', 'EVENT', 'TRIGGER',
  ],
  systemSchema: ['SELECT'],
};

/**
 * `ALL`: every privilege WITH GRANT OPTION (dolly's admin, `clone create --admin`); else global
 * privileges, privileges on every database (the `%` pattern), and on the `mysql` schema.
 */
export type AccountPrivileges = 'ALL' | { global: readonly string[]; anyDatabase: readonly string[]; systemSchema: readonly string[] };

/**
 * SQL run at every start of a server (via --init-file): creates or re-keys one account and sets
 * exactly its privileges (what it had before is revoked first).
 */
export function accountInitSql(user: string, hosts: readonly string[], password: string, privileges: AccountPrivileges = 'ALL'): string {
  const lines: string[] = [];
  const secret = quoteString(password);
  for (const host of hosts) {
    const account = quoteAccount(user, host);
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${secret};`,
      `ALTER USER ${account} IDENTIFIED BY ${secret} ACCOUNT UNLOCK;`,
      `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account};`,
    );
    if (privileges === 'ALL') lines.push(`GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;`);
    else {
      lines.push(
        `GRANT ${privileges.global.join(', ')} ON *.* TO ${account};`,
        `GRANT ${privileges.anyDatabase.join(', ')} ON \`%\`.* TO ${account};`,
        `GRANT ${privileges.systemSchema.join(', ')} ON \`mysql\`.* TO ${account};`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * SQL run at every start of a clone made with `--user NAME`: the production account NAME@'%' keeps
 * its own grants and gets the clone's password (production's hash was replaced when the snapshot
 * was prepared).
 */
export function productionAccountInitSql(user: string, password: string): string {
  return `ALTER USER ${quoteAccount(user, '%')} IDENTIFIED BY ${quoteString(password)} ACCOUNT UNLOCK;\n`;
}
