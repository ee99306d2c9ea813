import { messageOf } from '../errors.js';
import { quoteIdentifier } from './identifiers.js';
import type { SqlClient } from './sql-client.js';

/**
 * What a branch (`dolly clone snapshot`) is prepared against: its parent snapshot's login
 * accounts, and the name of the clone user each clone re-creates at its start.
 */
export interface BranchParent {
  /** The parent snapshot's login accounts (`user@host`, as `Snapshot.accounts`). */
  accounts: readonly string[];
  /** The clone user (`dolly`): `NAME@'%'` is made again by the init file of every clone. */
  cloneUser: string;
}

/** An account row as the planting checks need it. */
export interface AccountKey {
  user: string;
  host: string;
  role: boolean;
}

/** A stored object that runs with its definer's rights (or may: views and routines by SQL SECURITY). */
export interface DefinedObject {
  kind: 'VIEW' | 'PROCEDURE' | 'FUNCTION' | 'PACKAGE' | 'PACKAGE BODY' | 'TRIGGER' | 'EVENT';
  schema: string;
  name: string;
  /** `user@host` as information_schema writes it (a MariaDB role: its name, or `name@`). */
  definer: string;
}

/**
 * The login accounts of a branch its parent snapshot did not have: every non-role account whose
 * `user@host` is not in `parent.accounts`, except the server's own (`serverOwn`: root@localhost,
 * the system accounts, dolly's loopback admin). The clone user (`dolly@'%'`) is among them: each
 * clone makes it again (`CREATE USER IF NOT EXISTS`) with its own password and grants. Roles are
 * left alone (the parent does not record its roles; a role has no credential and cannot log in).
 */
export function plantedAccounts<T extends AccountKey>(accounts: readonly T[], parent: BranchParent, serverOwn: (account: T) => boolean): T[] {
  const known = new Set(parent.accounts);
  return accounts.filter((a) => !a.role && !serverOwn(a) && !known.has(`${a.user}@${a.host}`));
}

/**
 * The definers a branch's stored objects may keep: every account left after the planted ones are
 * dropped (the parent's login accounts, root@localhost and the system accounts, roles), and the
 * clone user (`dolly@'%'`: an object it defined runs, in any clone of the branch, with the rights
 * of that clone's own user, never more). Dolly's own admin (`adminUser`) is not one: dolly defines
 * nothing in the data, and it holds every privilege in every clone.
 */
export function allowedDefiners(remaining: readonly AccountKey[], parent: BranchParent, adminUser: string): Set<string> {
  const allowed = new Set<string>([`${parent.cloneUser}@%`]);
  for (const a of remaining) {
    if (a.user === adminUser) continue;
    allowed.add(`${a.user}@${a.host}`);
    if (a.role) allowed.add(a.user);
  }
  return allowed;
}

/** Every view, routine, trigger and event with its definer, from information_schema. */
export async function readDefinedObjects(client: SqlClient): Promise<DefinedObject[]> {
  type Row = { kind: unknown; s: unknown; n: unknown; d: unknown };
  const rows = [
    ...(await client.query<Row>("SELECT 'VIEW' AS kind, TABLE_SCHEMA AS s, TABLE_NAME AS n, DEFINER AS d FROM information_schema.VIEWS")),
    ...(await client.query<Row>('SELECT ROUTINE_TYPE AS kind, ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n, DEFINER AS d FROM information_schema.ROUTINES')),
    ...(await client.query<Row>("SELECT 'TRIGGER' AS kind, TRIGGER_SCHEMA AS s, TRIGGER_NAME AS n, DEFINER AS d FROM information_schema.TRIGGERS")),
    ...(await client.query<Row>("SELECT 'EVENT' AS kind, EVENT_SCHEMA AS s, EVENT_NAME AS n, DEFINER AS d FROM information_schema.EVENTS")),
  ];
  const kinds = new Set<string>(['VIEW', 'PROCEDURE', 'FUNCTION', 'PACKAGE', 'PACKAGE BODY', 'TRIGGER', 'EVENT']);
  return rows
    .map((r) => ({ kind: String(r.kind).toUpperCase(), schema: String(r.s), name: String(r.n), definer: String(r.d ?? '') }))
    .filter((o): o is DefinedObject => kinds.has(o.kind));
}

/** The statement that drops one object. */
export function dropObjectSql(object: DefinedObject): string {
  return `DROP ${object.kind} IF EXISTS ${quoteIdentifier(object.schema)}.${quoteIdentifier(object.name)}`;
}

/**
 * Drops every view, procedure, function (MariaDB package), trigger and event whose DEFINER is not
 * in `allowed`, whatever its SQL SECURITY: one rule, the same for every kind. An object that
 * cannot be dropped gets a warning; it never fails the snapshot. Returns one warning per object.
 *
 * What this does not catch: an object planted with a definer that is allowed (root@localhost or
 * another account of the parent) keeps it; telling it from the parent's own objects needs the
 * parent's object list, which a snapshot does not record.
 */
export async function dropPlantedObjects(client: SqlClient, allowed: ReadonlySet<string>): Promise<string[]> {
  const warnings: string[] = [];
  // Package bodies before their packages; the rest in any order.
  const order = (o: DefinedObject): number => (o.kind === 'PACKAGE BODY' ? 0 : o.kind === 'PACKAGE' ? 1 : 0);
  const planted = (await readDefinedObjects(client)).filter((o) => !allowed.has(o.definer)).sort((a, b) => order(a) - order(b));
  for (const object of planted) {
    const what = `${object.kind.toLowerCase()} ${object.schema}.${object.name} (definer ${object.definer})`;
    try {
      await client.execute(dropObjectSql(object));
      warnings.push(`${what} dropped: its definer is not an account of the branch's parent snapshot`);
    } catch (error) {
      warnings.push(`${what}: its definer is not an account of the branch's parent snapshot, and it could not be dropped (${messageOf(error).split('\n')[0]})`);
    }
  }
  return warnings;
}
