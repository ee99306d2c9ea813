import { escape } from 'mysql2';
import { InvalidArgumentError } from '../errors.js';

/**
 * Quoting for the few statements that cannot take `?` placeholders (CHANGE MASTER, GRANT hints,
 * init files). Values go through mysql2's own escaper, the one its client-side `?` formatting
 * uses; it assumes the session does not run with NO_BACKSLASH_ESCAPES (dolly's sessions never set
 * it, and it is a session-level mode).
 */

/** A string literal: `a'b\` → `'a\'b\\'`. Control characters are escaped, so the result is one line. */
export function quoteString(value: string): string {
  return escape(value);
}

/** An identifier (database, table, column): backticks doubled, NUL refused. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\0')) throw new InvalidArgumentError(`invalid SQL identifier ${JSON.stringify(name)}`);
  return `\`${name.replaceAll('`', '``')}\``;
}

/** An account as GRANT and CREATE USER write it: `'user'@'host'`. */
export function quoteAccount(user: string, host: string): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}

/** Splits CURRENT_USER()'s `user@host` (the host is after the last `@`; user names may contain `@`). */
export function splitAccount(account: string): { user: string; host: string } {
  const at = account.lastIndexOf('@');
  if (at < 0) return { user: account, host: '%' };
  return { user: account.slice(0, at), host: account.slice(at + 1) };
}

/**
 * True for names that are safe as a command-line argument and a path part: letters, digits,
 * `_`, `$`, `-` (not first), at most 64 characters (the MySQL identifier limit).
 */
export function isSafeName(name: string): boolean {
  return /^[A-Za-z0-9_$][A-Za-z0-9_$-]{0,63}$/.test(name);
}

/** A positive integer for a SQL or command-line value (ports, ids, counts); throws otherwise. */
export function sqlInteger(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer, not ${value}`);
  return String(value);
}

/**
 * A `replicate-wild-*-table` pattern for every table of `database`: `_`, `%` and `\\` escaped,
 * since they are wildcards there; commas are refused (they separate patterns).
 */
export function wildTablePattern(database: string): string {
  if (database.length === 0 || database.includes(',')) {
    throw new InvalidArgumentError(`database name ${JSON.stringify(database)} cannot be expressed as a replication filter`);
  }
  return `${database.replace(/[\\_%]/g, (c) => `\\${c}`)}.%`;
}
