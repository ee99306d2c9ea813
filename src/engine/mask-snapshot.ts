import { copyFile } from 'node:fs/promises';
import { FailedPreconditionError, InternalError, NotFoundError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { applyMask, checkSqlRules, type MaskResult } from '../mask/apply.js';
import { checkRules } from '../mask/check-rules.js';
import { readSchemaInfo } from '../mask/schema-info.js';
import { lockAdmin } from '../mysql/account-scrub.js';
import { maskServerResidue, settleServerResidue, afterMaskFiles } from '../mysql/residue.js';
import type { Replica, Snapshot } from '../state/state.js';
import { reportStep, type EngineDeps } from './context.js';
import { withJob } from './jobs.js';
import { currentMaskRules, maskKey, type StoredMaskRules } from './mask-rules.js';
import { accountTablesPath, prepareServerName, withPrepareServer } from './prepare.js';
import { generatePassword } from './names.js';
import { newSnapshot } from './snapshot-entry.js';

/** The mask server's buffer pool: the table, its copy and the map are read and written once each. */
const MASK_BUFFER_POOL = '1G';
/** One statement of masking (a table's copy filled, the table reloaded) fails after this long. */
const MASK_STATEMENT_TIMEOUT_MS = 6 * 3_600_000;

/**
 * Masks a prepared snapshot (`base`) into a new snapshot: a writable copy of the base is masked
 * once, in a server of its own with no network, and sealed; clones of it pay nothing for masking.
 * The base stays (admins only: the base for re-masking and for point-in-time clones).
 *
 * No residue: the masked tables are rebuilt (src/mask/apply.ts), and the server's undo, redo,
 * doublewrite and temporary files are made new (src/mysql/residue.ts), so no original value of a
 * masked column is left in any file of the masked snapshot.
 *
 * Journaled like any job: killed at any point, the next command removes the half-masked volume and
 * its entry; the base and the replica are never touched.
 */
export async function maskSnapshot(deps: EngineDeps, baseId: string, options: { signal?: AbortSignal; rules?: StoredMaskRules; scheduled?: boolean; owner?: string; event?: Record<string, unknown> } = {}): Promise<Snapshot> {
  const stored = options.rules ?? currentMaskRules(deps.store);
  if (stored === null) throw new FailedPreconditionError('no masking rules are set', { hint: 'set them first: `dolly mask set rules.yaml`' });
  const key = await maskKey(deps.root, { create: false });
  const now = deps.now();
  return withJob(
    deps,
    'snapshot-mask',
    (state) => {
      const replica = state.replica;
      if (!replica) throw new FailedPreconditionError('there is no replica', { hint: 'run `dolly replica init` first' });
      const named = state.snapshots.find((s) => s.id === baseId);
      if (!named || named.status !== 'ready') throw new NotFoundError(`no snapshot ${JSON.stringify(baseId)}`, { hint: 'list them with `dolly snapshot list`' });
      // Re-masking a masked snapshot starts again from its unmasked base.
      const base = named.masked_from !== undefined ? state.snapshots.find((s) => s.id === named.masked_from && s.status === 'ready') : named;
      if (!base) throw new FailedPreconditionError(`snapshot ${baseId}'s unmasked base ${named.masked_from ?? ''} is gone`, { hint: 'take a new snapshot: `dolly snapshot create`' });
      if (base.branch_of !== undefined) throw new FailedPreconditionError(`snapshot ${base.id} is a branch (a clone's data): only the replica's snapshots are masked`, { hint: 'mask a snapshot of the replica: `dolly snapshot list`' });
      const carried = { gtid: base.gtid, flavor: base.flavor, version: base.version, data_state_at: base.data_state_at, ...pick(base, ['lag_seconds', 'accounts', 'privileged_accounts', 'tls_accounts', 'owner']) };
      const masked = newSnapshot(state, now, { ...carried, masked: true, mask_version: stored.version, masked_from: base.id, ...(options.scheduled ? { scheduled: true } : {}), ...(options.owner !== undefined ? { owner: options.owner } : {}) });
      state.snapshots.push(masked);
      const server = prepareServerName(masked.volume);
      return {
        target: masked.id,
        undo: [{ do: 'forget-snapshot', id: masked.id }, { do: 'remove-volume', id: masked.volume }, { do: 'remove-run-dir', server }, { do: 'remove-server', name: server }],
        reserved: { masked, base, replica },
      };
    },
    async (job, { masked, base, replica }) => {
      const started = Date.now();
      const result = await maskVolume(deps, { masked, base, replica, stored, key, ...(options.signal ? { signal: options.signal } : {}) });
      const done: Snapshot = { ...masked, status: 'ready', mask_ms: Date.now() - started, mask_bytes: result.bytes, mask_rows: result.rows, prepare_ms: Date.now() - started };
      await job.commit(
        (s) => {
          s.snapshots = s.snapshots.map((x) => (x.id === done.id ? done : x));
        },
        undefined,
        [{ type: 'snapshot.created', data: { id: done.id, gtid: done.gtid, data_state_at: done.data_state_at, masked: true, masked_from: base.id, mask_version: stored.version, ...options.event } }],
      );
      reportStep(deps, `snapshot ${done.id}: masked ${result.tables} tables (${result.rows} rows) in ${done.mask_ms} ms; ready`);
      deps.logger.info('snapshot masked', { id: done.id, base: base.id, mask_version: stored.version, tables: result.tables, rows: result.rows, mask_ms: done.mask_ms });
      return done;
    },
  );
}

/** The fields of `from` that are set, among `keys`. */
function pick<K extends keyof Snapshot>(from: Snapshot, keys: readonly K[]): Partial<Pick<Snapshot, K>> {
  const out: Partial<Pick<Snapshot, K>> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

/** What maskVolume needs: the masked snapshot's entry (its volume not made yet), its unmasked base, the replica, the rules and key. */
export interface MaskVolumeInput {
  masked: Snapshot;
  base: Snapshot;
  replica: Replica;
  stored: StoredMaskRules;
  key: Buffer;
  signal?: AbortSignal;
}

/**
 * The masking itself, inside a caller's job (whose undo removes the masked volume and its
 * servers): a writable copy of the base's volume masked in a server of its own with no network,
 * its residue renewed, the base's account tables recorded for it, sealed. Returns what it masked.
 */
export async function maskVolume(deps: EngineDeps, input: MaskVolumeInput): Promise<MaskResult> {
  const { masked, base, replica, stored, key } = input;
  const state = deps.store.require();
  const driver = deps.driver(state);
  await driver.open();
  const data = await driver.snapshot(base.volume, masked.volume);
  reportStep(deps, `snapshot ${masked.id}: masking snapshot ${base.id} (rules version ${stored.version})`);
  const flavor = replica.source.flavor;
  const server = prepareServerName(masked.volume);
  const image = state.settings.image;
  const signal = input.signal ? { signal: input.signal } : {};
  let result: MaskResult | null = null;
  let undo = 0;
  let logBytes = 0;
  // A base whose last shutdown was fast keeps its undo at the first start: that start only ends slowly, the second masks.
  for (let start = 0; start < 2 && result === null; start += 1) {
    const residue = await maskServerResidue(flavor, data);
    if (start === 0) ({ undo, logBytes } = residue);
    result = await withPrepareServer(deps, { volume: masked.volume, data, replica, image, args: [...residue.args, `--innodb-buffer-pool-size=${MASK_BUFFER_POOL}`], slowShutdown: true, queryTimeoutMs: MASK_STATEMENT_TIMEOUT_MS, ...signal }, async (client) => {
      if (!(await residue.renewed(client))) {
        await lockAdmin(client, flavor, replica.admin_user, () => generatePassword(24));
        return null;
      }
      const schema = await readSchemaInfo(client, flavor);
      checkRules(stored.rules, schema);
      await checkSqlRules(client, stored.rules);
      await failpoint('snapshot-mask.checked');
      const done = await applyMask(client, schema, stored.rules, key, (line) => reportStep(deps, `snapshot ${masked.id}: ${line}`));
      await lockAdmin(client, flavor, replica.admin_user, () => generatePassword(24));
      return done;
    });
    await deps.runtime.remove(server);
  }
  if (result === null) throw new InternalError(`the mask server of ${masked.id} did not renew its undo tablespaces`, { hint: `see the server's log in the job's output; take a new snapshot, or run \`dolly snapshot mask ${base.id}\` again` });
  await afterMaskFiles(flavor, data);
  // MariaDB: one more clean start and slow shutdown with the server's usual undo and redo, so
  // what masking wrote there goes and clones start exactly as clones of an unmasked snapshot.
  const settle = settleServerResidue(flavor, undo, logBytes);
  if (settle !== null) {
    const renewed = await withPrepareServer(deps, { volume: masked.volume, data, replica, image, args: settle.args, slowShutdown: true, ...signal }, async (client) => {
      const renewed = await settle.renewed(client);
      await lockAdmin(client, flavor, replica.admin_user, () => generatePassword(24));
      return renewed;
    });
    await deps.runtime.remove(server);
    if (!renewed) throw new InternalError(`the settle server of ${masked.id} did not renew its undo tablespaces`, { hint: `run \`dolly snapshot mask ${base.id}\` again` });
    await afterMaskFiles(flavor, data);
  }
  // The base's account tables (what a branch of a clone of it is given back) are the masked snapshot's too.
  await copyFile(accountTablesPath(deps.root, base.volume), accountTablesPath(deps.root, masked.volume)).catch(() => undefined);
  await failpoint('snapshot-mask.masked');
  await driver.seal(masked.volume);
  return result;
}
