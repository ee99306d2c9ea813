import { createHash, randomBytes } from 'node:crypto';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { LOCAL_PRINCIPAL, type Principal, type TokenInfo } from '../model/principal.js';
import { validateName } from './names.js';
import type { StateStore } from '../state/store.js';

/** Tokens look like `dolly_<43 characters>`: 32 random bytes, so a plain SHA-256 is a safe stored form. */
const PREFIX = 'dolly_';

function hashOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Makes a token; returns its secret (shown once, stored only hashed). A revoked token's name may
 * be used again. `local` is the host CLI's name and cannot be a token.
 */
export function createToken(store: StateStore, name: string, admin: boolean, now: Date): string {
  validateName(name, 'token name');
  if (name === LOCAL_PRINCIPAL.name) throw new InvalidArgumentError('"local" is the name of the host\'s own CLI', { hint: 'choose another token name' });
  const secret = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  store.transact((db) => {
    const row = db.prepare('SELECT revoked_at FROM tokens WHERE name = ?').get(name) as { revoked_at: string | null } | undefined;
    if (row && row.revoked_at === null) throw new AlreadyExistsError(`a token named ${JSON.stringify(name)} exists`, { hint: 'choose another name, or `dolly token revoke` it first' });
    db.prepare('INSERT OR REPLACE INTO tokens (name, hash, admin, created_at, revoked_at) VALUES (?, ?, ?, ?, NULL)').run(name, hashOf(secret), admin ? 1 : 0, now.toISOString());
  });
  return secret;
}

export function listTokens(store: StateStore): TokenInfo[] {
  const rows = store.query((db) => db.prepare('SELECT name, admin, created_at, revoked_at FROM tokens ORDER BY created_at, name').all()) as { name: string; admin: number; created_at: string; revoked_at: string | null }[];
  return rows.map((r) => ({ name: r.name, admin: r.admin === 1, created_at: r.created_at, revoked_at: r.revoked_at }));
}

/** Revokes a token at once: the next request with it is refused. */
export function revokeToken(store: StateStore, name: string, now: Date): void {
  const changed = store.transact((db) => db.prepare('UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(now.toISOString(), name).changes);
  if (changed === 0) throw new NotFoundError(`no active token named ${JSON.stringify(name)}`, { hint: 'list them with `dolly token list`' });
}

/** The principal of a presented secret, or null when it is unknown, malformed or revoked. */
export function authenticate(store: StateStore, secret: string): Principal | null {
  if (!secret.startsWith(PREFIX) || secret.length > 128) return null;
  const row = store.query((db) => db.prepare('SELECT name, admin FROM tokens WHERE hash = ? AND revoked_at IS NULL').get(hashOf(secret))) as { name: string; admin: number } | undefined;
  return row ? { name: row.name, admin: row.admin === 1 } : null;
}

/** True when the root has no token at all (the engine's first start makes the admin token then). */
export function noTokens(store: StateStore): boolean {
  return store.query((db) => db.prepare('SELECT 1 FROM tokens LIMIT 1').get()) === undefined;
}
