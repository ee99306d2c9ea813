import { FailedPreconditionError, messageOf } from '../errors.js';
import type { Flavor } from './flavor.js';
import { quoteAccount } from './identifiers.js';
import { allowedDefiners, dropPlantedObjects, plantedAccounts, type BranchParent } from './planted.js';
import type { SqlClient } from './sql-client.js';

/**
 * One row of the server's own account table: `mysql.global_priv` on MariaDB, the `mysql.user`
 * table on MySQL. Read from the table, never from a view: the data of a snapshot (a branch is a
 * user's data) can redefine a view, not the table the server loads its accounts from.
 */
export interface StoredAccount {
  user: string;
  host: string;
  /** A role (MariaDB's `is_role`; on MySQL an account granted to another as a role). */
  role: boolean;
  /** Every credential the row holds: password hashes, plugin strings, a secondary (dual) password. */
  secrets: string[];
  /** It holds a global privilege beyond USAGE by itself (static or dynamic). */
  global: boolean;
  /** It must connect over TLS (`REQUIRE SSL`, `X509`, `ISSUER`, `SUBJECT`). */
  tls: boolean;
}

/** Credentials that are public constants, not secrets: the locked system accounts' placeholders. */
const NOT_SECRET = new Set(['', 'invalid', '$A$005$THISISACOMBINATIONOFINVALIDSALTANDPASSWORDTHATMUSTNEVERBRBEUSED']);

/** The accounts the server itself owns (locked, without a real credential): left as they are unless they hold one. */
const SYSTEM_ACCOUNTS = new Set(['mariadb.sys@localhost', 'mysql.sys@localhost', 'mysql.session@localhost', 'mysql.infoschema@localhost', 'PUBLIC@']);

/** The storage table of a flavor's accounts. */
function storageTable(flavor: Flavor): string {
  return flavor === 'mariadb' ? 'global_priv' : 'user';
}

/** Refuses a datadir whose account table was replaced (by a view or another engine's table). */
async function assertStorageTable(client: SqlClient, flavor: Flavor): Promise<void> {
  const rows = await client.query<{ t: unknown }>("SELECT TABLE_TYPE AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = ?", [storageTable(flavor)]);
  if (String(rows[0]?.t ?? '') !== 'BASE TABLE') {
    throw new FailedPreconditionError(`mysql.${storageTable(flavor)} in this data is not the server's account table`, { hint: 'the data was tampered with: take the snapshot from the replica, not from this branch' });
  }
}

/** Every string under a key named `authentication_string` (MariaDB's `auth_or` lists several). */
function collectSecrets(value: unknown, into: string[]): void {
  if (Array.isArray(value)) for (const item of value) collectSecrets(item, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if ((key === 'authentication_string' || key === 'additional_password') && typeof inner === 'string') into.push(inner);
      else collectSecrets(inner, into);
    }
  }
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}

/** Reads every account row from the storage table (roles included). */
export async function readStoredAccounts(client: SqlClient, flavor: Flavor): Promise<StoredAccount[]> {
  await assertStorageTable(client, flavor);
  if (flavor === 'mariadb') {
    const rows = await client.query<{ user: unknown; host: unknown; priv: unknown }>('SELECT User AS user, Host AS host, CONVERT(Priv USING utf8mb4) AS priv FROM mysql.global_priv ORDER BY User, Host');
    return rows.map((r) => {
      const priv = parseJson(r.priv);
      const secrets: string[] = [];
      collectSecrets(priv, secrets);
      const fields = typeof priv === 'object' && priv !== null ? (priv as Record<string, unknown>) : {};
      return { user: String(r.user), host: String(r.host), role: fields.is_role === true, secrets, global: Number(fields.access ?? 0) !== 0, tls: Number(fields.ssl_type ?? 0) !== 0 };
    });
  }
  const rows = await client.query<Record<string, unknown>>('SELECT * FROM mysql.user ORDER BY User, Host');
  const roles = await client.query<{ user: unknown; host: unknown }>('SELECT DISTINCT FROM_USER AS user, FROM_HOST AS host FROM mysql.role_edges');
  const dynamic = await client.query<{ user: unknown; host: unknown }>('SELECT DISTINCT USER AS user, HOST AS host FROM mysql.global_grants');
  const isRole = new Set(roles.map((r) => `${String(r.user)}@${String(r.host)}`));
  const hasDynamic = new Set(dynamic.map((r) => `${String(r.user)}@${String(r.host)}`));
  return rows.map((r) => {
    const key = `${String(r.User)}@${String(r.Host)}`;
    const secrets: string[] = [String(r.authentication_string ?? '')];
    collectSecrets(parseJson(r.User_attributes), secrets);
    const staticGlobal = Object.entries(r).some(([column, value]) => column.endsWith('_priv') && String(value) === 'Y');
    return { user: String(r.User), host: String(r.Host), role: isRole.has(key), secrets, global: staticGlobal || hasDynamic.has(key), tls: String(r.ssl_type ?? '') !== '' };
  });
}

/** `user@host` of the accounts that hold a global privilege themselves or through their roles (any depth). */
export async function privilegedAccounts(client: SqlClient, flavor: Flavor, accounts: readonly StoredAccount[]): Promise<Set<string>> {
  const edges =
    flavor === 'mariadb'
      ? await client.query<{ user: unknown; host: unknown; role: unknown; role_host: unknown }>("SELECT User AS user, Host AS host, Role AS role, '' AS role_host FROM mysql.roles_mapping")
      : await client.query<{ user: unknown; host: unknown; role: unknown; role_host: unknown }>('SELECT TO_USER AS user, TO_HOST AS host, FROM_USER AS role, FROM_HOST AS role_host FROM mysql.role_edges');
  const grantsOf = new Map<string, string[]>();
  for (const e of edges) {
    const key = `${String(e.user)}@${String(e.host)}`;
    grantsOf.set(key, [...(grantsOf.get(key) ?? []), `${String(e.role)}@${String(e.role_host)}`]);
  }
  const direct = new Set(accounts.filter((a) => a.global).map((a) => `${a.user}@${a.host}`));
  const privileged = (key: string, seen: Set<string>): boolean => {
    if (direct.has(key)) return true;
    if (seen.has(key)) return false;
    seen.add(key);
    return (grantsOf.get(key) ?? []).some((role) => privileged(role, seen));
  };
  return new Set(accounts.map((a) => `${a.user}@${a.host}`).filter((key) => privileged(key, new Set())));
}

/** What scrubbing the accounts of a snapshot did. */
export interface ScrubResult {
  /** Accounts that can log in once a clone gives them a password (`user@host`, roles and dolly's own left out). */
  accounts: string[];
  /** Those of `accounts` with a global privilege (directly or by a role). */
  privileged: string[];
  /** Those of `accounts` that must connect over TLS. */
  tls: string[];
  /** One line each: accounts dropped or added, and why. */
  warnings: string[];
}

/** A real credential of a row (not a public placeholder). */
function secretsOf(account: StoredAccount): string[] {
  return account.secrets.filter((s) => !NOT_SECRET.has(s));
}

/**
 * Removes every production credential from a prepared copy's accounts, for every account form a
 * server can hold (by host name, IP or netmask pattern, anonymous, plugin accounts, dual
 * passwords, TLS requirements): each login account gets a new random password nobody knows and
 * is locked (a TLS requirement kept as `REQUIRE SSL` where clones serve TLS); MariaDB's `root@localhost` becomes
 * socket-only; a secondary password is discarded; any `adminUser` other than dolly's own loopback
 * accounts is dropped; `mysql.servers` (FederatedX/CONNECT connection passwords) is emptied. An
 * account that cannot be changed is dropped, or its row deleted, with a warning: it never fails
 * the snapshot. Checked afterwards against the table: no row keeps any credential it had.
 *
 * A branch (`parent` given: a snapshot of a clone, whose user may have been an admin) keeps
 * nothing planted in it: first every view, routine, trigger and event whose definer is not an
 * account the branch keeps is dropped (see `allowedDefiners`, `dropPlantedObjects`), then every
 * login account the parent snapshot did not list (the clone's own `dolly@'%'` included), each
 * with a warning; the server's own accounts and roles stay. The rest is scrubbed as above.
 */
/** How to scrub: a branch's parent; whether clones serve TLS (then a TLS requirement is kept, as `REQUIRE SSL`). */
export interface ScrubOptions {
  parent?: BranchParent;
  clonesServeTls?: boolean;
}

export async function scrubAccounts(client: SqlClient, flavor: Flavor, adminUser: string, random: () => string, options: ScrubOptions = {}): Promise<ScrubResult> {
  const { parent } = options;
  const keepTls = options.clonesServeTls === true;
  const warnings: string[] = [];
  const before = await readStoredAccounts(client, flavor);
  const privileged = await privilegedAccounts(client, flavor, before);
  let kept: readonly StoredAccount[] = before;
  if (parent !== undefined) {
    const serverOwn = (a: StoredAccount): boolean => a.user === adminUser || SYSTEM_ACCOUNTS.has(`${a.user}@${a.host}`) || (a.user === 'root' && a.host === 'localhost');
    const planted = plantedAccounts(before, parent, serverOwn);
    kept = before.filter((a) => !planted.includes(a));
    // Objects first: MySQL refuses (or warns on) dropping an account that is still a definer.
    warnings.push(...(await dropPlantedObjects(client, allowedDefiners(kept, parent, adminUser))));
    for (const account of planted) {
      await dropAccount(client, flavor, account, warnings);
      warnings.push(`${account.user}@${account.host} dropped: the branch's parent snapshot has no such account`);
    }
  }
  const logins: StoredAccount[] = [];
  for (const account of kept) {
    const key = `${account.user}@${account.host}`;
    if (account.user === adminUser) {
      // Its own (this session's) credential too: the init file of each server that needs it sets it again.
      if (!account.role && (account.host === 'localhost' || account.host === '127.0.0.1')) await rekey(client, flavor, account, random, warnings, keepTls);
      else {
        await dropAccount(client, flavor, account, warnings);
        warnings.push(`${key} dropped: only dolly's own loopback admin accounts may have that name`);
      }
      continue;
    }
    if (SYSTEM_ACCOUNTS.has(key) && secretsOf(account).length === 0) continue;
    if (account.role && secretsOf(account).length === 0) continue;
    if (await rekey(client, flavor, account, random, warnings, keepTls)) {
      if (!account.role && !SYSTEM_ACCOUNTS.has(key) && !(account.user === 'root' && account.host === 'localhost')) logins.push(account);
    }
  }
  // FederatedX/CONNECT/FEDERATED server definitions hold their remote password in clear text.
  await client.execute('DELETE FROM mysql.servers').catch(() => warnings.push('mysql.servers could not be emptied'));
  // MySQL keeps the hashes of earlier passwords when a password history is set.
  if (flavor === 'mysql') await client.execute('DELETE FROM mysql.password_history').catch(() => warnings.push('mysql.password_history could not be emptied'));
  await client.execute('FLUSH PRIVILEGES');
  await removeLeftovers(client, flavor, before, warnings);
  const reachable = await addAnyHostAccounts(client, flavor, logins, random, warnings);
  const accounts = [...logins.map((a) => `${a.user}@${a.host}`), ...reachable.map((r) => r.added)];
  const privilegedList = accounts.filter((key) => privileged.has(key) || reachable.some((r) => r.added === key && privileged.has(r.from)));
  // An added NAME@'%' is made without a TLS requirement (its source's REQUIRE is not copied).
  const needsTls = new Set(keepTls ? before.filter((a) => a.tls).map((a) => `${a.user}@${a.host}`) : []);
  return { accounts: accounts.sort(), privileged: privilegedList.sort(), tls: accounts.filter((a) => needsTls.has(a)).sort(), warnings };
}

/**
 * Gives one account a new random credential, locked; on failure drops it. True if it is still
 * there. A TLS requirement stays as `REQUIRE SSL` when clones serve TLS (dolly issues no client
 * certificates, so `X509`, `ISSUER` and `SUBJECT` become `SSL`), else none.
 */
async function rekey(client: SqlClient, flavor: Flavor, account: StoredAccount, random: () => string, warnings: string[], keepTls: boolean): Promise<boolean> {
  const { user, host } = account;
  const require = keepTls && account.tls ? 'REQUIRE SSL' : 'REQUIRE NONE';
  try {
    if (flavor === 'mariadb' && user === 'root' && host === 'localhost') {
      await client.execute('ALTER USER ?@? IDENTIFIED VIA unix_socket REQUIRE NONE', [user, host]);
    } else if (flavor === 'mariadb') {
      await client.execute(`ALTER USER ?@? IDENTIFIED BY ? ${require} ACCOUNT LOCK`, [user, host, random()]);
    } else {
      await client.execute(`ALTER USER ?@? IDENTIFIED WITH caching_sha2_password BY ? ${require} ACCOUNT LOCK`, [user, host, random()]);
      await client.execute('ALTER USER ?@? DISCARD OLD PASSWORD', [user, host]);
    }
    return true;
  } catch (error) {
    warnings.push(`${user}@${host} dropped: its credential could not be replaced (${messageOf(error).split('\n')[0]})`);
    await dropAccount(client, flavor, account, warnings);
    return false;
  }
}

/** DROP USER, or (when the server refuses) deleting its row from the storage table. */
async function dropAccount(client: SqlClient, flavor: Flavor, account: StoredAccount, warnings: string[]): Promise<void> {
  try {
    await client.execute(account.role && flavor === 'mariadb' ? 'DROP ROLE ?' : 'DROP USER ?@?', account.role && flavor === 'mariadb' ? [account.user] : [account.user, account.host]);
  } catch {
    await client.execute(`DELETE FROM mysql.${storageTable(flavor)} WHERE User = ? AND Host = ?`, [account.user, account.host]);
    await client.execute('FLUSH PRIVILEGES');
    warnings.push(`${account.user}@${account.host}: its row was deleted from mysql.${storageTable(flavor)}`);
  }
}

/** Deletes any row that still holds one of the credentials read before (the table, not the server's memory, is what a clone inherits). */
async function removeLeftovers(client: SqlClient, flavor: Flavor, before: readonly StoredAccount[], warnings: string[]): Promise<void> {
  const old = new Set(before.flatMap(secretsOf));
  const after = await readStoredAccounts(client, flavor);
  const left = after.filter((a) => a.secrets.some((s) => old.has(s)));
  for (const account of left) {
    await client.execute(`DELETE FROM mysql.${storageTable(flavor)} WHERE User = ? AND Host = ?`, [account.user, account.host]);
    warnings.push(`${account.user}@${account.host}: still held a production credential; its row was deleted`);
  }
  if (left.length > 0) await client.execute('FLUSH PRIVILEGES');
}

/** Host patterns from most to least general: `%` first, then wildcard patterns, then IPs, then names. */
function generality(host: string): number {
  if (host === '%') return 0;
  if (host.includes('%') || host.includes('_')) return 1;
  if (/^[0-9.:/]+$/.test(host)) return 2;
  return 3;
}

/**
 * A clone is reached from an address of its own network, so `--user NAME` needs NAME@'%'. For a
 * name that exists only for host patterns, names or IPs (`app@10.0.%`, `app@web1.example.com`),
 * adds NAME@'%' (locked, random password) with the grants of its most general account; the
 * original accounts stay (they are DEFINERs).
 */
async function addAnyHostAccounts(client: SqlClient, flavor: Flavor, logins: readonly StoredAccount[], random: () => string, warnings: string[]): Promise<{ added: string; from: string }[]> {
  const byUser = new Map<string, StoredAccount[]>();
  for (const a of logins) if (a.user !== '') byUser.set(a.user, [...(byUser.get(a.user) ?? []), a]);
  const added: { added: string; from: string }[] = [];
  for (const [user, accounts] of byUser) {
    if (accounts.some((a) => a.host === '%')) continue;
    const from = [...accounts].sort((a, b) => generality(a.host) - generality(b.host))[0];
    if (!from) continue;
    try {
      const grants = await client.query('SHOW GRANTS FOR ' + quoteAccount(from.user, from.host));
      const lines = grants.map((row) => String(Object.values(row)[0] ?? ''));
      if (flavor === 'mariadb') await client.execute('CREATE USER ?@? IDENTIFIED BY ? ACCOUNT LOCK', [user, '%', random()]);
      else await client.execute('CREATE USER ?@? IDENTIFIED WITH caching_sha2_password BY ? ACCOUNT LOCK', [user, '%', random()]);
      for (const line of lines) {
        const statement = retarget(line, from, user);
        if (statement !== null) await client.execute(statement);
      }
      added.push({ added: `${user}@%`, from: `${from.user}@${from.host}` });
      warnings.push(`${user}@% added with the grants of ${from.user}@${from.host}, so that a clone can log in as ${user}`);
    } catch (error) {
      await client.execute('DROP USER IF EXISTS ?@?', [user, '%']).catch(() => undefined);
      warnings.push(`${user}@%: could not be added for ${from.user}@${from.host} (${messageOf(error).split('\n')[0]})`);
    }
  }
  return added;
}

/**
 * One SHOW GRANTS line for `from`, rewritten for `user`@'%' (the account after ` TO ` or ` FOR `);
 * null for lines that carry a credential or need no copy (`GRANT USAGE ON *.*`, `IDENTIFIED`).
 */
export function retarget(line: string, from: { user: string; host: string }, user: string): string | null {
  if (/^GRANT USAGE ON \*\.\* TO /i.test(line) && !/WITH/i.test(line)) return null;
  const quoted = [`\`${from.user.replaceAll('`', '``')}\`@\`${from.host.replaceAll('`', '``')}\``, quoteAccount(from.user, from.host)];
  for (const q of quoted) {
    for (const word of [' TO ', ' FOR ']) {
      const at = line.lastIndexOf(word + q);
      if (at >= 0) {
        const tail = line.slice(at + word.length + q.length).replace(/\s+IDENTIFIED\s+(BY|VIA|WITH)\s.*$/i, '');
        return `${line.slice(0, at)}${word}${quoteAccount(user, '%')}${tail}`;
      }
    }
  }
  return null;
}

/**
 * Locks dolly's loopback admin accounts again with new random passwords: a server whose init file
 * unlocked them (the mask server) ends with this, as prepare's scrub ends, so no snapshot holds
 * a usable admin credential.
 */
export async function lockAdmin(client: SqlClient, flavor: Flavor, adminUser: string, random: () => string): Promise<void> {
  const warnings: string[] = [];
  for (const account of await readStoredAccounts(client, flavor)) {
    if (account.user === adminUser && !account.role && (account.host === 'localhost' || account.host === '127.0.0.1')) await rekey(client, flavor, account, random, warnings, false);
  }
  await client.execute('FLUSH PRIVILEGES');
}
