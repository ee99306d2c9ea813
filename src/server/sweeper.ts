import { Cron } from 'croner';
import type { EngineDeps } from '../engine/context.js';
import { messageOf } from '../errors.js';
import { applyRate } from '../mysql/gtid-count.js';
import { connectSql } from '../mysql/sql-client.js';
import type { Clone } from '../state/state.js';
import { judgeActivity, readServer, storeActivity, type ServerReading } from './clone-activity.js';
import type { EventBus } from './events.js';
import { watchPoolSpace } from '../engine/pool-space.js';
import type { PitrView } from '../model/wire.js';

/** One reading of the replica, kept for the web page's lag chart. */
export interface ReplicaSample {
  at: string;
  io_running: boolean;
  sql_running: boolean;
  lag_seconds: number | null;
  /** The applied position's transaction count (null when the replica did not answer). */
  applied_transactions: number | null;
  /** Transactions applied per second since the sample before (null for the first, or after one without a count). */
  apply_rate: number | null;
  /** Transactions received and not yet applied. */
  behind_transactions: number | null;
}

/** The next sample: the apply rate from `previous`'s count and time to this reading's (no extra reading of the replica). */
export function nextSample(previous: ReplicaSample | undefined, at: Date, status: Pick<ReplicaSample, 'io_running' | 'sql_running' | 'lag_seconds' | 'applied_transactions' | 'behind_transactions'>): ReplicaSample {
  const reading = (s: { at: string; applied_transactions: number | null }): { count: number; atMs: number } | null =>
    s.applied_transactions === null ? null : { count: s.applied_transactions, atMs: Date.parse(s.at) };
  const sample = { at: at.toISOString(), io_running: status.io_running, sql_running: status.sql_running, lag_seconds: status.lag_seconds, applied_transactions: status.applied_transactions, behind_transactions: status.behind_transactions };
  return { ...sample, apply_rate: previous ? applyRate(reading(previous), reading(sample)) : null };
}

/** The pool's space as last read (bytes). */
export interface PoolSample {
  at: string;
  total_bytes: number;
  free_bytes: number;
}

/** How often the engine looks whether a base point is due (point-in-time clones). */
const PITR_CHECK_MS = 2_000;

/** Readings kept: a day at the default 30 s interval. */
const HISTORY = 2880;

export interface SweeperOptions {
  /** Clones without a client connection for this long are destroyed (unless protected); undefined: never. */
  idleMs?: number;
}

/** True when a clone's time is up: it has an expiry in the past and no protection lasting past now. */
export function isExpired(clone: Clone, now: Date): boolean {
  if (clone.status !== 'ready' || clone.expires_at === undefined) return false;
  return !isProtected(clone, now) && Date.parse(clone.expires_at) <= now.getTime();
}

function isProtected(clone: Clone, now: Date): boolean {
  return clone.protected_until !== undefined && Date.parse(clone.protected_until) > now.getTime();
}

/**
 * The engine's periodic work, one `tick` at a time: destroys expired and idle clones (webhook
 * first), snapshots on the schedule and prunes past retention, and reports when replication
 * stops or starts and when the pool runs low (each once per change).
 */
export class Sweeper {
  private readonly samples: ReplicaSample[] = [];
  /** As last seen (a replication found stopped at the engine's start is reported too). */
  private replicationStopped = false;
  private poolLow = false;
  private pool: PoolSample | undefined;
  private cron: { expression: string; job: Cron } | undefined;
  private snapshotting = false;
  private space: { stop(): void } | undefined;
  /** Point-in-time clones: base points every base interval, and the window kept (purges, old base points). */
  private pitrTimer: NodeJS.Timeout | undefined;
  private pitrBusy = false;
  private pitrPrunedAt = 0;
  private pitrLatest: PitrView | undefined;

  constructor(
    private readonly deps: EngineDeps,
    private readonly events: EventBus,
    private readonly options: SweeperOptions = {},
  ) {}

  async tick(): Promise<void> {
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        this.deps.logger.warn(`sweep: ${what} failed`, { error: messageOf(error) });
      }
    };
    this.space ??= watchPoolSpace(this.deps, { before: () => this.watchPool() }); // from the first tick on
    this.pitrTimer ??= setInterval(() => void this.pitr(), PITR_CHECK_MS);
    await step('expiry', () => this.expire());
    if (this.options.idleMs !== undefined) await step('idle clones', () => this.idle(this.options.idleMs ?? 0));
    await step('schedule', async () => this.schedule());
    await step('retention', async () => {
      // Each pruned snapshot's event is recorded with its removal (engine/jobs.ts).
      if ((await (await import('../engine/snapshot-manage.js')).pruneSnapshots(this.deps)).length > 0) this.events.pump();
    });
    await step('replication', () => this.watchReplication());
    await step('pool', () => this.watchPool());
    // The pool's space is looked at every second, not every sweep: the replica may fill it fast (pool-space.ts).
    this.space ??= watchPoolSpace(this.deps, { before: () => this.watchPool() }); // again, if `schedule` stopped it
  }

  /** The replica's recent readings, oldest first. */
  history(): ReplicaSample[] {
    return [...this.samples];
  }

  /** The newest readings of the replica and the pool (what /metrics shows: a scrape connects to nothing). */
  latest(): { replica: ReplicaSample | undefined; pool: PoolSample | undefined; pitr: PitrView | undefined } {
    return { replica: this.samples.at(-1), pool: this.pool, pitr: this.pitrLatest };
  }

  stop(): void {
    clearInterval(this.pitrTimer);
    this.pitrTimer = undefined;
    this.space?.stop();
    this.space = undefined;
    this.cron?.job.stop();
    this.cron = undefined;
  }

  private async destroy(clone: Clone, reason: 'expired' | 'idle', still: (c: Clone) => boolean): Promise<void> {
    const owner = clone.owner ?? 'local';
    this.events.emit('clone.expiring', { name: clone.name, reason, expires_at: clone.expires_at ?? null }, owner);
    await (await import('../engine/clone-manage.js')).destroyClone(clone.name, this.deps, { onlyIf: still, event: { reason } }).finally(() => this.events.pump());
    this.deps.logger.info(`clone ${clone.name} of ${owner} ${reason}: destroyed`);
  }

  private async expire(): Promise<void> {
    const now = this.deps.now();
    for (const clone of (this.deps.store.read()?.clones ?? []).filter((c) => isExpired(c, now))) {
      await this.destroy(clone, 'expired', (current) => isExpired(current, now)).catch((error: unknown) => this.deps.logger.warn(`could not destroy expired clone ${clone.name}`, { error: messageOf(error) }));
    }
  }

  private async idle(idleMs: number): Promise<void> {
    const state = this.deps.store.read();
    if (!state) return;
    const now = this.deps.now();
    const { cloneConnectOptions } = await import('../engine/servers.js');
    const records = storeActivity(this.deps.store);
    records.keepOnly(state.clones.map((c) => c.name));
    for (const clone of state.clones.filter((c) => c.status === 'ready')) {
      let reading: ServerReading;
      try {
        const client = await connectSql({ ...cloneConnectOptions(state, clone), connectTimeoutMs: 3_000, queryTimeoutMs: 3_000 });
        try {
          reading = await readServer(client);
        } finally {
          await client.close();
        }
      } catch {
        continue; // a clone that does not answer is not called idle
      }
      const activity = judgeActivity(records.get(clone.name), reading, now);
      records.put(clone.name, activity);
      if (!isProtected(clone, now) && now.getTime() - Date.parse(activity.last_active_at) >= idleMs) {
        await this.destroy(clone, 'idle', (current) => current.status === 'ready' && !isProtected(current, now));
      }
    }
  }

  /** Follows the stored schedule (changed by any process): one croner job, rebuilt when it changes. */
  private schedule(): void {
    const expression = this.deps.store.read()?.schedule?.snapshot;
    if (this.cron?.expression === expression) return;
    this.stop();
    if (expression === undefined) return;
    const job = new Cron(expression, { timezone: 'UTC', protect: true }, () => {
      void this.scheduledSnapshot();
    });
    this.cron = { expression, job };
  }

  private async scheduledSnapshot(): Promise<void> {
    if (this.snapshotting) return;
    this.snapshotting = true;
    try {
      await (await import('../engine/snapshot-create.js')).createSnapshot(this.deps, { scheduled: true, event: { by: 'schedule' } });
      this.events.pump();
    } catch (error) {
      this.deps.logger.warn('scheduled snapshot failed', { error: messageOf(error) });
    } finally {
      this.snapshotting = false;
    }
  }

  /** A base point when one is due (not while a snapshot is taken), then the window kept once a minute. */
  private async pitr(): Promise<void> {
    if (this.pitrBusy) return;
    this.pitrBusy = true;
    try {
      const state = this.deps.store.read();
      if (!state?.replica?.pitr || this.snapshotting) {
        this.pitrLatest = undefined;
        return;
      }
      const { basePointDue, takeBasePoint, prunePitr } = await import('../engine/base-point.js');
      const { listBasePoints } = await import('../engine/base-point-store.js');
      if (basePointDue(state, listBasePoints(this.deps.store), this.deps.now())) await takeBasePoint(this.deps);
      if (Date.now() - this.pitrPrunedAt >= 60_000) {
        this.pitrPrunedAt = Date.now();
        await prunePitr(this.deps);
      }
      this.pitrLatest = (await (await import('../engine/pitr-status.js')).pitrView(this.deps, this.deps.store.require())) ?? undefined;
    } catch (error) {
      this.deps.logger.warn('sweep: point-in-time base point failed', { error: messageOf(error) });
    } finally {
      this.pitrBusy = false;
    }
  }

  private async watchReplication(): Promise<void> {
    if (!this.deps.store.read()?.replica) return;
    const status = await (await import('../engine/replica-status.js')).getReplicaStatus(this.deps);
    this.samples.push(nextSample(this.samples.at(-1), this.deps.now(), status));
    if (this.samples.length > HISTORY) this.samples.shift();
    const stopped = !status.io_running || !status.sql_running;
    if (stopped !== this.replicationStopped) {
      this.events.emit(stopped ? 'replication.stopped' : 'replication.running', { io_running: status.io_running, sql_running: status.sql_running, last_error: status.last_error });
    }
    this.replicationStopped = stopped;
  }

  /** Low: less free than twice the reserve (clones are refused at the reserve itself). */
  private async watchPool(): Promise<void> {
    const state = this.deps.store.read();
    if (!state) return;
    const { freeBytes, totalBytes } = await this.deps.driver(state).space();
    this.pool = { at: this.deps.now().toISOString(), total_bytes: totalBytes, free_bytes: freeBytes };
    const reserve = state.settings.reserve_bytes ?? 0;
    const low = freeBytes < 2 * reserve;
    if (low && !this.poolLow) this.events.emit('pool.low', { free_bytes: freeBytes, total_bytes: totalBytes, reserve_bytes: reserve });
    this.poolLow = low;
  }
}
