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
import { cloneView, newClone, productionAccount, setCloneStatus, settlePort, uniqueName, assertAboveReserve, keepReserve, limitClone, type CloneCreateOptions, type CloneView } from './clone-create.js';
import { withJob, type Reservation } from './jobs.js';
import { generateServerId, validateName } from './names.js';
import { PITR_VOLUME, binlogFiles, pitrBases } from './pitr-binlog.js';
import { listBasePoints } from './base-point-store.js';
import { findCut, type Cut } from './pitr-cut.js';
import { parsePointGtid, parsePointTime, pointIso, type Point } from './pitr-point.js';
import { waitUntilApplied } from './pitr-wait.js';
import { prepareServerName, prepareSnapshot } from './prepare.js';
import { reconcile } from './reconcile.js';
import { maskingOn } from './snapshot-access.js';
import { newSnapshot } from './snapshot-entry.js';
import { currentMaskRules, maskKey } from './mask-rules.js';
import { maskVolume } from './mask-snapshot.js';
import { cloneConnectOptions, cloneServerName, cloneSpec, replicaConnectOptions, startAndWait } from './servers.js';

export interface CloneAtOptions extends Omit<CloneCreateOptions, 'snapshot'> {
  /** `--at`: an ISO-8601 time with a zone, or `-90s`-style before now. */
  at?: string;
  /** `--at-gtid`: the last transaction the clone holds. */
  atGtid?: string;
  /** How long to wait for the replica to apply the point (default 30 s, at most 10 min). */
  waitMs?: number;
}

/** A point-in-time clone's view: the clone, and the point it holds. */
export type CloneAtView = CloneView & { point: { at: string; gtid: string; base: string; transactions: number; replay_ms: number } };

/** The replay server's buffer pool: it applies a base interval's worth of transactions once. */
const REPLAY_BUFFER_POOL = '512M';
const MAX_WAIT_MS = 600_000;

/**
 * `dolly clone create --at TIME | --at-gtid GTID`: a clone of the source as it was at a past
 * point. The newest base (a replica snapshot that recorded its binlog position) at or before the
 * point is copied, the replica's own binlog (a copy of its volume, so purges cannot touch it) is
 * replayed into it by a server with no network up to the exact cut (src/engine/pitr-cut.ts), the
 * result is prepared as any snapshot (replication state dropped, accounts re-keyed) and sealed as
 * a point snapshot, and the clone is made from it. One job: killed anywhere, the next command
 * removes the clone, the point snapshot, the relay copy and the servers.
 */
export async function createCloneAt(options: CloneAtOptions, deps: EngineDeps): Promise<CloneAtView> {
  const started = Date.now();
  if (options.at !== undefined && options.atGtid !== undefined) throw new InvalidArgumentError('--at and --at-gtid do not go together', { hint: 'give one of them' });
  const waitMs = Math.min(options.waitMs ?? 30_000, MAX_WAIT_MS);
  await reconcile(deps);
  const state0 = deps.store.require();
  const replica = requirePitr(state0);
  const flavor = replica.source.flavor;
  const point: Point = options.atGtid !== undefined ? { kind: 'gtid', gtid: parsePointGtid(options.atGtid, flavor) } : { kind: 'time', us: parsePointTime(options.at ?? '', deps.now().getTime()) };
  // With masking rules set, the point is masked after its replay (unless an admin asks --unmasked).
  const rules = maskingOn(state0) && options.unmasked !== true ? currentMaskRules(deps.store) : null;
  if (maskingOn(state0) && options.unmasked !== true && rules === null) throw new FailedPreconditionError('masking is on but no rules are stored', { hint: 'set them again: `dolly mask set FILE`' });
  const key = rules === null ? null : await maskKey(deps.root, { create: false });
  if (options.user !== undefined && options.admin === true) throw new InvalidArgumentError('--user and --admin do not go together', { hint: "--user keeps the production account's own grants; --admin gives the dolly user every privilege" });
  await waitUntilApplied(deps, replica, point, waitMs, options.signal);
  const busy = new Set<number>();
  const reserve = (state: State): Reservation<{ clone: Clone; pointSnapshot: Snapshot; masked: Snapshot | null; relay: string }> => {
    requirePitr(state);
    const name = options.name === undefined ? uniqueName(state) : validateName(options.name);
    if (state.clones.some((c) => c.name === name)) throw new AlreadyExistsError(`a clone named ${JSON.stringify(name)} exists`, { hint: 'choose another --name, or `dolly clone reset` it' });
    const bases = pitrBases(state, listBasePoints(deps.store));
    if (bases.length === 0) throw new FailedPreconditionError('there is no base for a point yet: no snapshot was taken since point-in-time clones were turned on', { hint: 'take one: `dolly snapshot create`' });
    const pointSnapshot = newSnapshot(state, deps.now(), { gtid: '', flavor, version: replica.source.version, ...(maskingOn(state) ? { admin_only: true } : {}), ...(options.owner !== undefined ? { owner: options.owner } : {}) });
    state.snapshots.push(pointSnapshot);
    const masked = rules === null ? null : newSnapshot(state, deps.now(), { gtid: '', flavor, version: replica.source.version, masked: true, mask_version: rules.version, masked_from: pointSnapshot.id, ...(options.owner !== undefined ? { owner: options.owner } : {}) });
    if (masked) state.snapshots.push(masked);
    const clone = newClone(state, name, (masked ?? pointSnapshot).id, busy, deps.now(), options);
    state.clones.push(clone);
    const relay = `relay-${pointSnapshot.volume}`;
    const server = cloneServerName(name);
    const replay = prepareServerName(pointSnapshot.volume);
    const undo: JobStep[] = [
      { do: 'forget-clone', name },
      { do: 'forget-snapshot', id: pointSnapshot.id },
      { do: 'remove-volume', id: clone.volume },
      { do: 'remove-volume', id: pointSnapshot.volume },
      { do: 'remove-volume', id: relay },
      { do: 'remove-run-dir', server: replay },
      { do: 'remove-server', name: replay },
      { do: 'remove-run-dir', server },
      { do: 'remove-server', name: server },
    ];
    if (masked) undo.push({ do: 'forget-snapshot', id: masked.id }, { do: 'remove-volume', id: masked.volume }, { do: 'remove-run-dir', server: prepareServerName(masked.volume) }, { do: 'remove-server', name: prepareServerName(masked.volume) });
    return { target: name, undo, reserved: { clone, pointSnapshot, masked, relay } };
  };
  return withJob(deps, 'clone-at', reserve, async (job, reserved) => {
    await failpoint('clone-at.reserved');
    const clone = await settlePort(deps, job, reserved.clone, busy);
    const state = deps.store.require();
    const driver = deps.driver(state);
    await driver.open();
    await assertAboveReserve(driver, state);
    // Every file the point needs is closed and copied (O(1) on btrfs): purges cannot touch the copy.
    const admin = await connectSql(replicaConnectOptions(deps.root, replica));
    try {
      await admin.execute('FLUSH BINARY LOGS');
    } finally {
      await admin.close();
    }
    const relayData = await driver.snapshot(PITR_VOLUME, reserved.relay);
    if (relayData.kind !== 'path') throw new FailedPreconditionError('the relay copy is not a directory', { hint: 'point-in-time clones need btrfs or copy' });
    await failpoint('clone-at.relay-ready');
    const cut = await findCut(relayData.path, state.replica?.pitr?.base ?? '', pitrBases(state, listBasePoints(deps.store)), point, flavor);
    reportStep(deps, `clone ${clone.name}: ${cut.transactions} transactions to replay on snapshot ${cut.base.id} up to ${cut.gtid}`);
    const pointData = await driver.snapshot(cut.base.volume, reserved.pointSnapshot.volume);
    const replayStarted = Date.now();
    const startFile = await relayFiles(relayData.path, state.replica?.pitr?.base ?? '', cut);
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
    const done: Snapshot = { ...reserved.pointSnapshot, status: 'ready', gtid: cut.gtidState, data_state_at: pointAt, pause_ms: 0, prepare_ms: prepared.ms, accounts: prepared.accounts, privileged_accounts: prepared.privileged_accounts, tls_accounts: prepared.tls_accounts, point: { at: pointAt, base: cut.base.id, transactions: cut.transactions, replay_ms: replayMs } };
    await failpoint('clone-at.sealed');
    if (options.user !== undefined) productionAccount(done, options.user, options.admin === true);
    await keepReserve(driver, state);
    let cloned = done;
    if (reserved.masked && rules && key) {
      const started = Date.now();
      const result = await maskVolume(deps, { masked: reserved.masked, base: done, replica, stored: rules, key, ...(options.signal ? { signal: options.signal } : {}) });
      cloned = { ...reserved.masked, status: 'ready', gtid: done.gtid, data_state_at: done.data_state_at, pause_ms: 0, prepare_ms: Date.now() - started, mask_ms: Date.now() - started, mask_bytes: result.bytes, mask_rows: result.rows, point: done.point!, accounts: done.accounts ?? [], privileged_accounts: done.privileged_accounts ?? [], tls_accounts: done.tls_accounts ?? [] };
      await failpoint('clone-at.masked');
    }
    const data = await driver.clone(cloned.volume, clone.volume);
    await limitClone(driver, state, clone.volume);
    reportStep(deps, `clone ${clone.name}: point ${pointAt} (${cut.gtid}) made in ${replayMs} ms; starting its server`);
    const spec = await cloneSpec(deps, state, clone, data, flavor);
    await startAndWait(deps, spec, cloneConnectOptions(state, clone), options.signal);
    await failpoint('clone-at.started');
    const created = { type: 'clone.created', data: { name: clone.name, snapshot: cloned.id, at: pointAt, gtid: cut.gtid, base: cut.base.id, expires_at: clone.expires_at ?? null, ...options.event }, owner: clone.owner ?? 'local' } as const;
    await job.commit(
      (s) => {
        s.snapshots = s.snapshots.map((x) => (x.id === done.id ? done : x.id === cloned.id ? cloned : x));
        setCloneStatus(s, clone.name, 'ready');
      },
      undefined,
      [created],
    );
    reportStep(deps, `clone ${clone.name}: ready (${Date.now() - started} ms)`);
    return { ...cloneView(deps.store.require(), clone), ready_ms: Date.now() - started, point: { at: pointAt, gtid: cut.gtid, base: cut.base.id, transactions: cut.transactions, replay_ms: replayMs } };
  });
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
