import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { FailedPreconditionError } from '../errors.js';
import type { MaskRules } from '../mask/rule.js';
import { canonicalRules } from '../mask/rules.js';
import type { StateStore } from '../state/store.js';

/**
 * The root's masking rules, versioned in the store (`mask_rules`), and the masking key. The key
 * (ROOT/mask.key, 32 random bytes, 0600) lives beside the store, never in the pool: no snapshot,
 * clone or server ever mounts it, so nobody with a clone can recompute a mapping.
 */

/** The rules in force: their version, the file as it was set, and who set it when. */
export interface StoredMaskRules {
  version: number;
  rules: MaskRules;
  /** The rules file's text as given to `mask set` (what `mask show` prints). */
  source: string;
  created_at: string;
  created_by: string;
}

/** Where the masking key lives. */
export function maskKeyPath(root: string): string {
  return join(root, 'mask.key');
}

/**
 * The root's masking key. `mask set` makes it (0600) the first time; masking itself never makes
 * one (`create` false): a lost key would silently mask every value differently from then on.
 */
export async function maskKey(root: string, options: { create?: boolean } = { create: true }): Promise<Buffer> {
  const path = maskKeyPath(root);
  try {
    const key = await readFile(path);
    if (key.length !== 32) throw new FailedPreconditionError(`${path} is not a dolly masking key (${key.length} bytes, not 32)`, { hint: 'restore it from a backup: a new key masks every value differently' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (options.create !== true) throw new FailedPreconditionError(`the masking key ${path} is missing`, { hint: 'restore it from a backup (the same key masks the same way); or set the rules again (`dolly mask set FILE`) to make a new key: every value then masks differently' });
    await writeFileAtomic(path, randomBytes(32), { mode: 0o600 });
    return readFile(path);
  }
}

/** The rules in force, or null when masking is off (never set, or cleared). */
export function currentMaskRules(store: StateStore): StoredMaskRules | null {
  const row = store.query((db) => db.prepare('SELECT version, body, source, created_at, created_by FROM mask_rules ORDER BY version DESC LIMIT 1').get()) as
    | { version: number; body: string; source: string; created_at: string; created_by: string }
    | undefined;
  if (row === undefined || row.body === '') return null;
  return { version: row.version, rules: JSON.parse(row.body) as MaskRules, source: row.source, created_at: row.created_at, created_by: row.created_by };
}

/** The newest version number (0: never set), whether or not it is a clear. */
export function maskRulesVersion(store: StateStore): number {
  const row = store.query((db) => db.prepare('SELECT MAX(version) AS v FROM mask_rules').get()) as { v: number | null };
  return row.v ?? 0;
}

/** Stores checked rules as the next version; returns it. */
export function storeMaskRules(store: StateStore, rules: MaskRules, source: string, by: string, now: Date): number {
  return store.transact((db) => Number(db.prepare('INSERT INTO mask_rules (body, source, created_at, created_by) VALUES (?, ?, ?, ?)').run(canonicalRules(rules), source, now.toISOString(), by).lastInsertRowid));
}

/** Turns masking off from the next snapshot (a version with no rules); false when it was off. */
export function clearMaskRules(store: StateStore, by: string, now: Date): boolean {
  if (currentMaskRules(store) === null) return false;
  store.transact((db) => db.prepare("INSERT INTO mask_rules (body, source, created_at, created_by) VALUES ('', '', ?, ?)").run(now.toISOString(), by));
  return true;
}
