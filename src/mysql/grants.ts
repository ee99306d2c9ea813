import type { PrivilegeNeed } from './flavor.js';
import { quoteAccount } from './identifiers.js';

/**
 * What SHOW GRANTS (for the current user) says the user may do. MariaDB lists the grants of the
 * user and of its enabled roles; MySQL lists only the user's own grants (privileges that come
 * through a role are not seen, and are reported missing). Table-, column- and routine-level
 * grants are ignored: a dump needs whole databases.
 */
export interface Grants {
  /** Privileges ON *.* (upper case); `ALL` when ALL PRIVILEGES. */
  global: Set<string>;
  /** Privileges ON `db`.*; `pattern` is the GRANT's database name, where `%` and `_` are wildcards. */
  databases: { pattern: string; privileges: Set<string> }[];
}

/** Parses the rows of SHOW GRANTS (one GRANT statement each). Lines it does not understand are skipped. */
export function parseGrants(lines: readonly string[]): Grants {
  const grants: Grants = { global: new Set(), databases: [] };
  for (const line of lines) {
    const parsed = parseGrantLine(line);
    if (parsed === null) continue;
    if (parsed.target === null) for (const p of parsed.privileges) grants.global.add(p);
    else grants.databases.push({ pattern: parsed.target, privileges: new Set(parsed.privileges) });
  }
  return grants;
}

/** One line: privileges and target (null for *.*); null for role grants, table-level grants, proxies. */
function parseGrantLine(line: string): { privileges: string[]; target: string | null } | null {
  const match = /^GRANT\s+(.+?)\s+ON\s+(.*)$/is.exec(line.trim());
  if (!match?.[1] || match[2] === undefined) return null;
  // Column-level grants (`SELECT (a, b)`) do not cover a database: drop them with their lists.
  const privileges = match[1]
    .replace(/\w[\w ]*\([^)]*\)/g, '')
    .split(',')
    .map((p) => p.trim().toUpperCase().replace(/\s+/g, ' '))
    .filter((p) => p.length > 0)
    .map((p) => (p === 'ALL PRIVILEGES' ? 'ALL' : p));
  const rest = match[2].trimStart();
  if (rest.startsWith('*.*')) return { privileges, target: null };
  const db = readQuoted(rest);
  if (db === null || !rest.slice(db.length).startsWith('.*')) return null;
  return { privileges, target: db.value };
}

/** A leading `name` or 'name' or bare name; returns its unquoted value and its length in the text. */
function readQuoted(text: string): { value: string; length: number } | null {
  const quote = text[0];
  if (quote === '`' || quote === "'" || quote === '"') {
    let value = '';
    for (let i = 1; i < text.length; i += 1) {
      const c = text[i];
      if (c === quote) {
        if (text[i + 1] === quote) {
          value += c;
          i += 1;
          continue;
        }
        return { value, length: i + 1 };
      }
      value += c;
    }
    return null;
  }
  const bare = /^[\w$]+/.exec(text)?.[0];
  return bare ? { value: bare, length: bare.length } : null;
}

/** True when a GRANT's database name (a LIKE pattern: `%`, `_`, `\` escapes) matches `database`. */
export function databasePatternMatches(pattern: string, database: string): boolean {
  let regex = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i] ?? '';
    if (c === '\\' && i + 1 < pattern.length) {
      regex += escapeRegex(pattern[i + 1] ?? '');
      i += 1;
    } else if (c === '%') regex += '.*';
    else if (c === '_') regex += '.';
    else regex += escapeRegex(c);
  }
  return new RegExp(`^${regex}$`, 's').test(database);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function has(privileges: Set<string>, need: PrivilegeNeed): boolean {
  return privileges.has('ALL') || need.accepted.some((name) => privileges.has(name));
}

/** The needs `grants` do not cover, in the order given (database needs must hold for every database). */
export function missingPrivileges(grants: Grants, needs: readonly PrivilegeNeed[], databases: readonly string[]): PrivilegeNeed[] {
  return needs.filter((need) => {
    if (has(grants.global, need)) return false;
    if (need.level === 'global') return true;
    return !databases.every((db) => grants.databases.some((g) => databasePatternMatches(g.pattern, db) && has(g.privileges, need)));
  });
}

/** The statement that grants what is missing: `GRANT RELOAD, BINLOG MONITOR ON *.* TO 'u'@'h';`. */
export function grantStatement(missing: readonly PrivilegeNeed[], user: string, host: string): string {
  return `GRANT ${missing.map((m) => m.grant).join(', ')} ON *.* TO ${quoteAccount(user, host)};`;
}
