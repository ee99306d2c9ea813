import { PermissionDeniedError } from '../errors.js';
import { splitAccount } from '../mysql/identifiers.js';
import type { Principal } from '../model/principal.js';
import type { Snapshot } from '../state/state.js';
import type { ClonePolicy } from './api.js';

/**
 * What a non-admin token may ask of a clone (admins, and the host's CLI, are never refused): an
 * `admin` clone only when the engine allows it (`serve --allow-admin-clones`: such a clone can
 * load plugins and reach other networks); `--user NAME` only for a NAME the engine lists
 * (`serve --clone-users`) or, without that list, for an account with no global privilege in the
 * snapshot used. Snapshots that do not say which accounts are privileged (taken by an older
 * dolly) are judged by their account list alone, when the clone is made.
 */
export function checkClonePolicy(principal: Principal, policy: ClonePolicy, snapshot: Snapshot, clone: { admin: boolean; user?: string }): void {
  if (principal.admin) return;
  if (clone.admin) checkAdminClone(principal, policy);
  if (clone.user !== undefined) checkCloneUser(policy, snapshot, clone.user);
}

/** An `admin` clone for a non-admin token: only when the engine allows it. */
export function checkAdminClone(principal: Principal, policy: ClonePolicy): void {
  if (principal.admin || policy.allowAdminClones === true) return;
  throw new PermissionDeniedError('an admin clone needs an admin token', { hint: 'ask an admin, or run the engine with `dolly serve --allow-admin-clones`' });
}

/** `--user NAME` for a non-admin token: a NAME of `--clone-users`, or (without that list) one without global privileges. */
function checkCloneUser(policy: ClonePolicy, snapshot: Snapshot, user: string): void {
  if (policy.cloneUsers !== undefined) {
    if (policy.cloneUsers.includes(user)) return;
    const allowed = policy.cloneUsers.length > 0 ? `this engine allows ${policy.cloneUsers.join(', ')}` : 'this engine allows none';
    throw new PermissionDeniedError(`--user ${user} needs an admin token (${allowed})`, { hint: 'ask an admin, or add it to `dolly serve --clone-users`' });
  }
  const privileged = (snapshot.privileged_accounts ?? []).filter((account) => splitAccount(account).user === user);
  if (privileged.length === 0) return;
  throw new PermissionDeniedError(`--user ${user} needs an admin token: ${privileged.join(', ')} has global privileges in snapshot ${snapshot.id}`, {
    hint: 'ask an admin, or name the accounts non-admins may use with `dolly serve --clone-users NAME,...`',
  });
}

/** `--clone-users app,report`: names, trimmed, without empty ones. */
export function parseCloneUsers(text: string): string[] {
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
