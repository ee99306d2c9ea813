import { Cron } from 'croner';
import { InvalidArgumentError, messageOf } from '../errors.js';
import type { Schedule, Snapshot, State } from '../state/state.js';
import type { EngineDeps } from './context.js';
import { maskingOn, newestReplicaSnapshot } from './snapshot-access.js';

/** Checks a cron expression (UTC; five fields, or six with seconds first); InvalidArgumentError with croner's reason otherwise. */
export function checkCron(expression: string): void {
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) throw new InvalidArgumentError(`invalid schedule ${JSON.stringify(expression)}: five fields are needed`, { hint: 'write minute hour day month weekday, e.g. "*/15 * * * *"' });
  try {
    new Cron(expression, { paused: true, timezone: 'UTC' }).stop();
  } catch (error) {
    throw new InvalidArgumentError(`invalid schedule ${JSON.stringify(expression)}: ${messageOf(error)}`, { hint: 'write minute hour day month weekday, e.g. "*/15 * * * *"' });
  }
}

/** `dolly schedule set` / `clear`: what the engine snapshots on its own, and what it keeps. */
export function setSchedule(deps: EngineDeps, schedule: Schedule | undefined): Schedule | null {
  if (schedule) checkCron(schedule.snapshot);
  return deps.store.update((state) => {
    if (schedule) state.schedule = schedule;
    else delete state.schedule;
    return state.schedule ?? null;
  });
}

/**
 * Scheduled snapshots past the schedule's retention: beyond the newest `keep`, or older than
 * `max_age`. Snapshots taken by hand and branches are never past it; neither is the default
 * snapshot (the newest ready one of the replica: a branch never is).
 */
export function pastRetention(state: State, now: Date): Set<string> {
  const schedule = state.schedule;
  const past = new Set<string>();
  if (!schedule) return past;
  const ready = state.snapshots.filter((s) => s.status === 'ready');
  const newest = newestReplicaSnapshot(state);
  // With masking on, a take is a pair (the unmasked base and its masked snapshot): the masked ones
  // are counted, and a base goes once every masked snapshot made from it is past retention.
  const masking = maskingOn(state);
  const scheduled = ready.filter((s) => s.scheduled && (!masking || s.masked === true)).reverse();
  const tooOld = (snapshot: Snapshot): boolean => schedule.max_age_ms !== undefined && now.getTime() - Date.parse(snapshot.created_at) > schedule.max_age_ms;
  scheduled.forEach((snapshot, index) => {
    if ((index >= schedule.keep || tooOld(snapshot)) && snapshot.id !== newest?.id) past.add(snapshot.id);
  });
  if (masking) {
    // A base whose masking failed has no masked snapshot: it goes once it is older than every masked snapshot kept.
    const kept = scheduled.filter((s) => !past.has(s.id)).map((s) => Date.parse(s.created_at));
    const oldestKept = kept.length > 0 ? Math.min(...kept) : undefined;
    for (const base of ready.filter((s) => s.scheduled && s.masked !== true && s.id !== newest?.masked_from)) {
      const masked = ready.filter((s) => s.masked_from === base.id);
      const orphanPast = tooOld(base) || (oldestKept !== undefined && Date.parse(base.created_at) < oldestKept);
      if (masked.length > 0 ? masked.every((s) => past.has(s.id)) : orphanPast) past.add(base.id);
    }
  }
  return past;
}
