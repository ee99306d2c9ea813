import type { EngineDeps } from '../engine/context.js';
import { messageOf } from '../errors.js';
import type { Clone } from '../state/state.js';

/** True when a clone's time is up: it has an expiry in the past and no protection lasting past now. */
export function isExpired(clone: Clone, now: Date): boolean {
  if (clone.status !== 'ready' || clone.expires_at === undefined) return false;
  if (clone.protected_until !== undefined && Date.parse(clone.protected_until) > now.getTime()) return false;
  return Date.parse(clone.expires_at) <= now.getTime();
}

/** Destroys every expired clone; returns their names. One that fails is tried again next time. */
export async function expireClones(deps: EngineDeps): Promise<string[]> {
  const now = deps.now();
  const due = (deps.store.read()?.clones ?? []).filter((c) => isExpired(c, now));
  const destroyed: string[] = [];
  const { destroyClone } = await import('../engine/clone-manage.js');
  for (const clone of due) {
    try {
      await destroyClone(clone.name, deps, { onlyIf: (current) => isExpired(current, now) });
      destroyed.push(clone.name);
      deps.logger.info(`clone ${clone.name} of ${clone.owner ?? 'local'} expired at ${clone.expires_at ?? '?'}: destroyed`);
    } catch (error) {
      deps.logger.warn(`could not destroy expired clone ${clone.name}`, { error: messageOf(error) });
    }
  }
  return destroyed;
}
