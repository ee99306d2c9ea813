import { chown, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { SERVER_UID } from '../docker/server-user.js';
import { flavorOps } from '../mysql/flavor.js';
import { RELAY_BASE, replayResetSql, replayToCut, replayedGtid } from '../mysql/replay.js';
import { connectSql } from '../mysql/sql-client.js';
import { CONTAINER_RELAYDIR } from '../runtime/container-layout.js';
import type { Clone, JobStep, Replica, Snapshot, State } from '../state/state.js';
import { reportStep, type EngineDeps } from './context.js';
import { cloneView, findClone, newClone, productionAccount, setCloneStatus, settlePort, uniqueName, assertAboveReserve, keepReserve, limitClone, type CloneCreateOptions, type CloneView } from './clone-create.js';
import { orphanPointSteps } from './clone-manage.js';
import { withJob, type Reservation } from './jobs.js';
import { generateServerId, shortId, validateName } from './names.js';
import { PITR_VOLUME, binlogFiles, pitrBases } from './pitr-binlog.js';
import { listBasePoints } from './base-point-store.js';
import { findCut, type Cut } from './pitr-cut.js';
import { parsePointGtid, parsePointTime, pointIso, type Point } from './pitr-point.js';
import { waitUntilApplied } from './pitr-wait.js';
import { prepareServerName, prepareSnapshot } from './prepare.js';
import { reconcile } from './reconcile.js';
import { maskingOn } from './snapshot-access.js';
import { newSnapshot } from './snapshot-entry.js';
import { currentMaskRules, maskKey, type StoredMaskRules } from './mask-rules.js';
import { maskVolume } from './mask-snapshot.js';
import { cloneConnectOptions, cloneServerName, cloneSpec, replicaConnectOptions, startAndWait } from './servers.js';

/** The point a clone is asked for: `--at TIME` or `--at-gtid GTID`, and how long to wait for the replica. */
export interface PointOptions {
  /** `--at`: an ISO-8601 time with a zone, or `-90s`-style before now. */
  at?: string;
  /** `--at-gtid`: the last transaction the clone holds. */
  atGtid?: string;
  /** How long to wait for the replica to apply the point (default 30 s, at most 10 min). */
  waitMs?: number;
  /** With masking rules set: the point unmasked (admins only: the caller checks). */
  unmasked?: boolean;
  signal?: AbortSignal;
  event?: Record<string, unknown>;
}

export interface CloneAtOptions extends Omit<CloneCreateOptions, 'snapshot' | 'unmasked' | 'signal' | 'event'>, PointOptions {}

/** What a point-in-time clone (made or reset) tells: the point it holds. */
export interface PointView {
  at: string;
  gtid: string;
  base: string;
  transactions: number;
  replay_ms: number;
}

/** A point-in-time clone's view: the clone, and the point it holds. */
export type CloneAtView = CloneView & { point: PointView };

/** The replay server's buffer pool: it applies a base interval's worth of transactions once. */
const REPLAY_BUFFER_POOL = '512M';
const MAX_WAIT_MS = 600_000;

/** A point asked for, checked against the replica (which has applied it) before anything is reserved. */
interface PointPlan {
  replica: Replica;
  point: Point;
  /** The masking rules and key, when the point is to be masked after its replay. */
  mask: { rules: StoredMaskRules; key: Buffer } | null;
}

/** What a point reserves in the store: its snapshot (and the masked one), the relay copy, and how to undo them. */
interface PointReservation {
  pointSnapshot: Snapshot;
  masked: Snapshot | null;
  relay: string;
  undo: JobStep[];
}

/** A point made: the snapshot to clone (`cloned`: the masked one when masking is on) and what it holds. */
interface MadePoint {
  done: Snapshot;
  cloned: Snapshot;
  view: PointView;
}

/**
 * `dolly clone create --at TIME | --at-gtid GTID`: a clone of the source as it was at a past
 * point. The newest base (a replica snapshot or base point that recorded its binlog position) at
 * or before the point is copied, the replica's own binlog (a copy of its volume, so purges cannot
 * touch it) is replayed into it by a server with no network up to the exact cut
 * (src/engine/pitr-cut.ts), the result is prepared as any snapshot (replication state dropped,
 * accounts re-keyed), masked when rules are set, and sealed as a point snapshot; the clone is made
 * from it. One job: killed anywhere, the next command removes the clone, the point snapshot, the
 * relay copy and the servers.
 */
export async function createCloneAt(options: CloneAtOptions, deps: EngineDeps): Promise<CloneAtView> {
  const started = Date.now();
  if (options.user !== undefined && options.admin === true) throw new InvalidArgumentError('--user and --admin do not go together', { hint: "--user keeps the production account's own grants; --admin gives the dolly user every privilege" });
  const plan = await planPoint(options, deps);
  const busy = new Set<number>();
  const reserve = (state: State): Reservation<PointReservation & { clone: Clone }> => {
    requirePitr(state);
    const name = options.name === undefined ? uniqueName(state) : validateName(options.name);
    if (state.clones.some((c) => c.name === name)) throw new AlreadyExistsError(`a clone named ${JSON.stringify(name)} exists`, { hint: 'choose another --name, or `dolly clone reset` it' });
    const point = reservePoint(state, deps, plan, options.owner);
    const clone = newClone(state, name, (point.masked ?? point.pointSnapshot).id, busy, deps.now(), options);
    state.clones.push(clone);
    const server = cloneServerName(name);
    const undo: JobStep[] = [{ do: 'forget-clone', name }, { do: 'remove-volume', id: clone.volume }, { do: 'remove-run-dir', server }, { do: 'remove-server', name: server }, ...point.undo];
    return { target: name, undo, reserved: { ...point, clone } };
  };
  return withJob(deps, 'clone-at', reserve, async (job, reserved) => {
    await failpoint('clone-at.reserved');
    const clone = await settlePort(deps, job, reserved.clone, busy);
    const state = deps.store.require();
    const made = await makePoint(deps, state, reserved, plan, { ...(options.user !== undefined ? { user: options.user } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    const driver = deps.driver(state);
    const data = await driver.clone(made.cloned.volume, clone.volume);
    await limitClone(driver, state, clone.volume);
    reportStep(deps, `clone ${clone.name}: point ${made.view.at} (${made.view.gtid}) made in ${made.view.replay_ms} ms; starting its server`);
    const spec = await cloneSpec(deps, state, clone, data, made.cloned.flavor);
    await startAndWait(deps, spec, cloneConnectOptions(state, clone), options.signal);
    await failpoint('clone-at.started');
    const created = { type: 'clone.created', data: { name: clone.name, snapshot: made.cloned.id, at: made.view.at, gtid: made.view.gtid, base: made.view.base, expires_at: clone.expires_at ?? null, ...options.event }, owner: clone.owner ?? 'local' } as const;
    await job.commit(
      (s) => {
        sealPoint(s, made);
        setCloneStatus(s, clone.name, 'ready');
      },
      undefined,
      [created],
    );
    reportStep(deps, `clone ${clone.name}: ready (${Date.now() - started} ms)`);
    return { ...cloneView(deps.store.require(), clone), ready_ms: Date.now() - started, point: made.view };
  });
}

/**
 * `dolly clone reset NAME --at TIME | --at-gtid GTID`: the clone's data becomes the source's at
 * that point; its name, port, credentials (a production account's login included) and expiry stay.
 * The point is made as for `clone create --at`, the clone's server restarts on a copy of it, and
 * only then is the old volume removed (with the point snapshot it was on, if no other clone uses
 * it). Killed anywhere, the clone comes back on its old volume and the point's parts go.
 */
export async function resetCloneAt(name: string, options: PointOptions, deps: EngineDeps): Promise<CloneAtView> {
  validateName(name);
  const started = Date.now();
  const plan = await planPoint(options, deps);
  const reserve = (state: State): Reservation<PointReservation & { before: Clone; next: Clone }> => {
    requirePitr(state);
    const clone = findClone(state, name);
    const point = reservePoint(state, deps, plan, clone.owner);
    const before = { ...clone };
    const next: Clone = { ...clone, snapshot: (point.masked ?? point.pointSnapshot).id, volume: `clone-${name}-${shortId()}` };
    clone.status = 'resetting';
    // Undone last first: the point's parts, whatever server runs, the new volume; then the old clone comes back.
    const undo: JobStep[] = [{ do: 'restore-clone', clone: before }, { do: 'remove-volume', id: next.volume }, { do: 'remove-server', name: cloneServerName(name) }, ...point.undo];
    return { target: name, undo, reserved: { ...point, before, next } };
  };
  return withJob(deps, 'clone-at', reserve, async (job, reserved) => {
    await failpoint('clone-at.reserved');
    const { before, next } = reserved;
    const state = deps.store.require();
    const made = await makePoint(deps, state, reserved, plan, { ...(before.production_account ? { user: before.user } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    const driver = deps.driver(state);
    const data = await driver.clone(made.cloned.volume, next.volume);
    await limitClone(driver, state, next.volume);
    reportStep(deps, `clone ${name}: point ${made.view.at} (${made.view.gtid}) made in ${made.view.replay_ms} ms; restarting its server on it`);
    await deps.runtime.remove(cloneServerName(name));
    await startAndWait(deps, await cloneSpec(deps, state, next, data, made.cloned.flavor), cloneConnectOptions(state, next), options.signal);
    await failpoint('clone-at.started');
    // The old volume goes, and the point snapshot it was on when no other clone uses it (read in the commit's transaction).
    const finish: JobStep[] = [{ do: 'remove-volume', id: before.volume }];
    await job.commit(
      (s) => {
        sealPoint(s, made);
        s.clones = s.clones.map((c) => (c.name === name ? { ...next, status: 'ready' } : c));
        finish.push(...orphanPointSteps(s, before.snapshot, name));
      },
      finish,
      [{ type: 'clone.reset', data: { name, snapshot: next.snapshot, at: made.view.at, gtid: made.view.gtid, base: made.view.base, ...options.event }, owner: before.owner ?? 'local' }],
    );
    reportStep(deps, `clone ${name}: ready (${Date.now() - started} ms)`);
    return { ...cloneView(deps.store.require(), next), ready_ms: Date.now() - started, point: made.view };
  });
}

/** The point parsed, the masking it gets, and the replica waited for until it has applied it (up to `waitMs`). */
async function planPoint(options: PointOptions, deps: EngineDeps): Promise<PointPlan> {
  if (options.at !== undefined && options.atGtid !== undefined) throw new InvalidArgumentError('--at and --at-gtid do not go together', { hint: 'give one of them' });
  const waitMs = Math.min(options.waitMs ?? 30_000, MAX_WAIT_MS);
  await reconcile(deps);
  const state = deps.store.require();
  const replica = requirePitr(state);
  const flavor = replica.source.flavor;
  const point: Point = options.atGtid !== undefined ? { kind: 'gtid', gtid: parsePointGtid(options.atGtid, flavor) } : { kind: 'time', us: parsePointTime(options.at ?? '', deps.now().getTime()) };
  // With masking rules set, the point is masked after its replay (unless an admin asks --unmasked).
  let mask: PointPlan['mask'] = null;
  if (maskingOn(state) && options.unmasked !== true) {
    const rules = currentMaskRules(deps.store);
    if (rules === null) throw new FailedPreconditionError('masking is on but no rules are stored', { hint: 'set them again: `dolly mask set FILE`' });
    mask = { rules, key: await maskKey(deps.root, { create: false }) };
  }
  await waitUntilApplied(deps, replica, point, waitMs, options.signal);
  return { replica, point, mask };
}

/** Reserves the point snapshot (admins' only while masking is on), the masked one, the relay copy's name, and their undo. */
function reservePoint(state: State, deps: EngineDeps, plan: PointPlan, owner: string | undefined): PointReservation {
  const bases = pitrBases(state, listBasePoints(deps.store));
  if (bases.length === 0) throw new FailedPreconditionError('there is no base for a point yet: no snapshot was taken since point-in-time clones were turned on', { hint: 'take one: `dolly snapshot create`' });
  const { flavor, version } = plan.replica.source;
  const owned = owner !== undefined ? { owner } : {};
  const pointSnapshot = newSnapshot(state, deps.now(), { gtid: '', flavor, version, ...(maskingOn(state) ? { admin_only: true } : {}), ...owned });
  state.snapshots.push(pointSnapshot);
  const masked = plan.mask === null ? null : newSnapshot(state, deps.now(), { gtid: '', flavor, version, masked: true, mask_version: plan.mask.rules.version, masked_from: pointSnapshot.id, ...owned });
  if (masked) state.snapshots.push(masked);
  const relay = `relay-${pointSnapshot.volume}`;
  const replay = prepareServerName(pointSnapshot.volume);
  const undo: JobStep[] = [
    { do: 'forget-snapshot', id: pointSnapshot.id },
    { do: 'remove-volume', id: pointSnapshot.volume },
    { do: 'remove-volume', id: relay },
    { do: 'remove-run-dir', server: replay },
    { do: 'remove-server', name: replay },
  ];
  if (masked) undo.push({ do: 'forget-snapshot', id: masked.id }, { do: 'remove-volume', id: masked.volume }, { do: 'remove-run-dir', server: prepareServerName(masked.volume) }, { do: 'remove-server', name: prepareServerName(masked.volume) });
  return { pointSnapshot, masked, relay, undo };
}

/**
 * Makes a reserved point: FLUSH BINARY LOGS and an O(1) copy of the binlog volume (purges cannot
 * touch it), the cut found in it, a copy of the base, the replay by a server with no network up to
 * the cut, the usual prepare, the seal; then the masking when rules are set. The store learns of
 * the result in the caller's commit (`sealPoint`).
 */
async function makePoint(deps: EngineDeps, state: State, reserved: PointReservation, plan: PointPlan, options: { user?: string; signal?: AbortSignal }): Promise<MadePoint> {
  const { replica, point } = plan;
  const flavor = replica.source.flavor;
  const driver = deps.driver(state);
  await driver.open();
  await assertAboveReserve(driver, state);
  const admin = await connectSql(replicaConnectOptions(deps.root, replica));
  try {
    await admin.execute('FLUSH BINARY LOGS');
  } finally {
    await admin.close();
  }
  const relayData = await driver.snapshot(PITR_VOLUME, reserved.relay);
  if (relayData.kind !== 'path') throw new FailedPreconditionError('the relay copy is not a directory', { hint: 'point-in-time clones need btrfs or copy' });
  await failpoint('clone-at.relay-ready');
  const binlogBase = state.replica?.pitr?.base ?? '';
  const cut = await findCut(relayData.path, binlogBase, pitrBases(state, listBasePoints(deps.store)), point, flavor);
  reportStep(deps, `point: ${cut.transactions} transactions to replay on snapshot ${cut.base.id} up to ${cut.gtid}`);
  const pointData = await driver.snapshot(cut.base.volume, reserved.pointSnapshot.volume);
  const replayStarted = Date.now();
  const startFile = await relayFiles(relayData.path, binlogBase, cut);
  // The applier skips events of its own server id: the replay server's is none of the stream's.
  let serverId = generateServerId();
  while (cut.serverIds.includes(serverId) || serverId === replica.server_id) serverId = generateServerId();
  const prepared = await prepareSnapshot(deps, reserved.pointSnapshot.volume, pointData, replica, state.settings.image, options.signal, undefined, {
    args: [`--relay-log=${CONTAINER_RELAYDIR}/${RELAY_BASE}`, `--relay-log-index=${CONTAINER_RELAYDIR}/${RELAY_BASE}.index`, '--relay-log-recovery=OFF', '--relay-log-purge=OFF', `--innodb-buffer-pool-size=${REPLAY_BUFFER_POOL}`, '--innodb-flush-log-at-trx-commit=2', ...flavorOps(flavor).parallelApplyArgs(flavor === 'mysql' ? 4 : 0)],
    extraMounts: [{ path: relayData.path, target: CONTAINER_RELAYDIR }],
    queryTimeoutMs: 3_700_000,
    // Masked next: its prepare ends with a slow shutdown, as a snapshot's (the mask server renews the undo).
    slowShutdown: reserved.masked !== null,
    serverId,
    before: async (client) => {
      for (const sql of replayResetSql(flavor)) await client.execute(sql);
      await writeRelayIndex(relayData.path, startFile.files);
      await failpoint('clone-at.replaying');
      if (cut.transactions > 0) await replayToCut(client, flavor, { startFile: startFile.first, startPos: cut.start.pos, cutFile: relayName(cut.end.file), cutEndPos: cut.end.pos, cutGtid: cut.gtid, ...(cut.untilGtids !== undefined ? { untilGtids: cut.untilGtids } : {}) });
      const reached = await replayedGtid(client, flavor);
      if (!cut.reached(reached)) throw new FailedPreconditionError(`the replay stopped at ${reached}, not at ${cut.gtid}`, { hint: 'try another point; see the log' });
    },
  });
  const replayMs = Date.now() - replayStarted;
  await failpoint('clone-at.replayed');
  await deps.runtime.remove(prepareServerName(reserved.pointSnapshot.volume));
  await driver.seal(reserved.pointSnapshot.volume);
  await driver.remove(reserved.relay);
  const pointAt = point.kind === 'time' ? pointIso(point.us, flavor) : new Date(Math.floor(cut.stampUs / 1_000)).toISOString();
  const view: PointView = { at: pointAt, gtid: cut.gtid, base: cut.base.id, transactions: cut.transactions, replay_ms: replayMs };
  const done: Snapshot = { ...reserved.pointSnapshot, status: 'ready', gtid: cut.gtidState, data_state_at: pointAt, pause_ms: 0, prepare_ms: prepared.ms, accounts: prepared.accounts, privileged_accounts: prepared.privileged_accounts, tls_accounts: prepared.tls_accounts, point: { at: pointAt, base: cut.base.id, transactions: cut.transactions, replay_ms: replayMs } };
  await failpoint('clone-at.sealed');
  // A production account's login (`--user`, or the clone being reset) must be in the point.
  if (options.user !== undefined) productionAccount(done, options.user, false);
  await keepReserve(driver, state);
  if (!reserved.masked || !plan.mask) return { done, cloned: done, view };
  const maskStarted = Date.now();
  const result = await maskVolume(deps, { masked: reserved.masked, base: done, replica, stored: plan.mask.rules, key: plan.mask.key, ...(options.signal ? { signal: options.signal } : {}) });
  const maskMs = Date.now() - maskStarted;
  const cloned: Snapshot = { ...reserved.masked, status: 'ready', gtid: done.gtid, data_state_at: done.data_state_at, pause_ms: 0, prepare_ms: maskMs, mask_ms: maskMs, mask_bytes: result.bytes, mask_rows: result.rows, point: done.point!, accounts: done.accounts ?? [], privileged_accounts: done.privileged_accounts ?? [], tls_accounts: done.tls_accounts ?? [] };
  await failpoint('clone-at.masked');
  return { done, cloned, view };
}

/** The store learns of a made point: its snapshot (and the masked one) ready. */
function sealPoint(state: State, made: MadePoint): void {
  state.snapshots = state.snapshots.map((x) => (x.id === made.done.id ? made.done : x.id === made.cloned.id ? made.cloned : x));
}

/** The replica, when point-in-time clones are on; else a one-line refusal with the way to turn them on. */
function requirePitr(state: State): Replica {
  const replica = state.replica;
  if (!replica || replica.status !== 'ready') throw new FailedPreconditionError('there is no replica', { hint: 'run `dolly replica init --source mysql://... --pitr-window 24h` first' });
  if (!replica.pitr) throw new FailedPreconditionError('point-in-time clones are off for this replica', { hint: 'turn them on: `dolly replica pitr --window 24h` (points start from the next snapshot)' });
  return replica;
}
/** `BASE.000042` → `relay.000042`: the relay copy's files keep their numbers under the relay log's name. */
function relayName(file: string): string {
  return `${RELAY_BASE}.${file.slice(file.lastIndexOf('.') + 1)}`;
}

/**
 * Renames the copy's binlog files from the base's file on to relay files (their numbers kept) and
 * drops the binlog's own index; returns the first relay file and the list for the relay index.
 */
async function relayFiles(dir: string, base: string, cut: Cut): Promise<{ first: string; files: string[] }> {
  const number = (file: string): number => Number(file.slice(file.lastIndexOf('.') + 1));
  const files: string[] = [];
  // Only the files up to the cut's: a server that finds the last listed file empty may make its own relay log under that name.
  for (const { name } of await binlogFiles(dir, base)) {
    if (number(name) < number(cut.start.file) || number(name) > number(cut.end.file)) continue;
    await rename(join(dir, name), join(dir, relayName(name)));
    files.push(relayName(name));
  }
  await rm(join(dir, `${base}.index`), { force: true });
  return { first: relayName(cut.start.file), files };
}

/** The relay index, written after RESET (which deletes what an index lists), owned by the server's user. */
async function writeRelayIndex(dir: string, files: readonly string[]): Promise<void> {
  const index = join(dir, `${RELAY_BASE}.index`);
  await writeFile(index, files.map((f) => `${CONTAINER_RELAYDIR}/${f}\n`).join(''), { mode: 0o640 });
  await chown(index, SERVER_UID, SERVER_UID);
}
