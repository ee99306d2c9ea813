import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImage } from '../docker/image-build.js';
import { createClone, type CloneView } from '../engine/clone-create.js';
import type { EngineDeps } from '../engine/context.js';
import { teardown } from '../engine/lifecycle.js';
import { tlsDir } from '../engine/tls.js';
import { initPool } from '../engine/pool-init.js';
import { initReplica } from '../engine/replica-init.js';
import { getReplicaStatus } from '../engine/replica-status.js';
import { createSnapshot } from '../engine/snapshot-create.js';
import { FailedPreconditionError, InternalError } from '../errors.js';
import { connectSql } from '../mysql/sql-client.js';
import { generatePassword } from '../engine/names.js';
import { fillSampleData, startLoadEmulator, startProductionServer, type ProductionServer } from './production-server.js';
import type { Snapshot } from '../state/state.js';

export interface DemoOptions {
  sizeBytes: number;
  driver: 'btrfs' | 'copy' | 'commit';
  /** Called once everything is up, before clean-up; resolves when the demo may end (Ctrl-C). */
  hold: (summary: DemoSummary) => Promise<void>;
  onStep?: (step: DemoStep) => void;
  onProgress?: (what: string, bytes: number, total: number) => void;
  /** Aborted (Ctrl-C): the demo stops after the current step and cleans up. */
  signal?: AbortSignal;
}

export interface DemoStep {
  step: string;
  seconds: number;
  detail: string;
}

export interface DemoSummary {
  steps: DemoStep[];
  snapshot: Snapshot;
  clone: CloneView;
  source_port: number;
  /** The id of the row written on the source a second before the snapshot, read back from the clone. */
  proof: { row_id: number; written_at: string; found_in_clone: boolean };
}

/** A demo's timed steps: each is recorded, reported, and refused once the demo is interrupted. */
export async function demoSteps(options: { onStep?: (step: DemoStep) => void; signal?: AbortSignal }, deps: EngineDeps) {
  if ((await deps.store.read()) !== null) {
    throw new FailedPreconditionError(`${deps.root} already has a dolly pool; the demo needs a root of its own`, { hint: 'pass another --root, or `dolly --root ROOT teardown --purge` it' });
  }
  const steps: DemoStep[] = [];
  const step = async <T>(name: string, fn: () => Promise<T>, detail: (value: T) => string): Promise<T> => {
    if (options.signal?.aborted) throw new FailedPreconditionError('demo interrupted', { hint: 'everything it started is being removed' });
    const started = Date.now();
    const value = await fn();
    const entry = { step: name, seconds: (Date.now() - started) / 1000, detail: detail(value) };
    steps.push(entry);
    options.onStep?.(entry);
    return value;
  };
  return { steps, step };
}

/**
 * `dolly demo`: the seed's story in one command — a "production" MariaDB with sample data and a
 * load emulator, then init, replica init, snapshot create, clone create; proves that a row written
 * on the source a second before the snapshot is in the clone; removes everything it started.
 */
export async function runDemo(options: DemoOptions, deps: EngineDeps): Promise<DemoSummary> {
  const { steps, step } = await demoSteps(options, deps);
  const rootPassword = generatePassword();
  let production: ProductionServer | undefined;
  let load: { stop(): Promise<void> } | undefined;
  try {
    await step('image', () => buildImage({}, { docker: deps.docker, shell: deps.shell, logger: deps.logger }), (r) => (r.built ? `built ${r.tag}` : `${r.tag} present`));
    production = await step(
      'production',
      () => startProductionServer({ docker: deps.docker, root: deps.root, image: 'dolly/mariadb:10.11', rootPassword, name: 'demo-production' }),
      (p) => `MariaDB with binlog and GTID on 127.0.0.1:${p.port}`,
    );
    const prod = production;
    await step(
      'sample data',
      async () => {
        const sql = await prod.sql();
        try {
          return await fillSampleData(sql, { database: 'shop', bytes: options.sizeBytes, onProgress: (b: number) => options.onProgress?.('sample data', b, options.sizeBytes) });
        } finally {
          await sql.close();
        }
      },
      () => `about ${(options.sizeBytes / 1024 ** 2).toFixed(0)} MiB in database shop`,
    );
    const source = { host: '127.0.0.1', port: prod.port, user: 'root', password: rootPassword };
    load = await step('load emulator', () => startLoadEmulator(source, { database: 'docker', intervalMs: 1000 }), () => 'a row a second into docker.repl_status');
    const poolSize = `${Math.max(20, Math.ceil((options.sizeBytes * 6) / 1024 ** 3))}G`;
    await step('init', () => initPool({ driver: options.driver, size: poolSize }, deps), (r) => `${r.driver} pool at ${deps.root}`);
    await step('replica init', () => initReplica({ source, onProgress: (b, t) => options.onProgress?.('copy', b, t) }, deps), (r) => `${r.databases.join(', ')} copied, replicating from ${r.gtid}`);
    await step('replica caught up', () => waitCaughtUp(deps), (lag) => `lag ${lag} s`);
    const marker = await writeMarker(source);
    await new Promise((r) => setTimeout(r, 1000));
    const snapshot = await step('snapshot create', () => createSnapshot(deps), (s) => `${s.id}, applier paused ${s.pause_ms} ms, prepared in ${(s.prepare_ms / 1000).toFixed(1)} s`);
    const clone = await step('clone create', () => createClone({ name: 'demo' }, deps), (c) => `${c.name} on port ${c.port}`);
    const found = await rowInClone(clone, marker.id);
    if (!found) throw new InternalError(`the row ${marker.id} written a second before the snapshot is not in the clone`);
    const summary: DemoSummary = { steps, snapshot, clone, source_port: prod.port, proof: { row_id: marker.id, written_at: marker.at, found_in_clone: found } };
    await options.hold(summary);
    return summary;
  } finally {
    await load?.stop().catch(() => undefined);
    await purgeDemoRoot(deps);
    await production?.stop().catch(() => undefined);
    await removeDemoRoot(deps.root);
  }
}

/** `teardown --purge` of a demo's root, when the demo got as far as making its pool. */
export async function purgeDemoRoot(deps: EngineDeps): Promise<void> {
  if ((await deps.store.read()) === null) return;
  await teardown({ purge: true }, deps).catch((error: unknown) => deps.logger.warn('demo clean-up: teardown failed', { error: String(error) }));
}

/**
 * The last of a demo's clean-up: what `teardown --purge` keeps in a root (its CA, the prepared
 * snapshots' account tables), then the root itself once empty. The demo refuses a root that holds
 * a pool, so these are its own.
 */
export async function removeDemoRoot(root: string): Promise<void> {
  await rm(tlsDir(root), { recursive: true, force: true });
  await rm(join(root, 'accounts'), { recursive: true, force: true });
  await rmdir(root).catch(() => undefined);
}

async function waitCaughtUp(deps: EngineDeps): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await getReplicaStatus(deps);
    if (status.io_running && status.sql_running && status.lag_seconds === 0) return 0;
    if (Date.now() > deadline) throw new InternalError(`the replica did not catch up (lag ${status.lag_seconds ?? 'unknown'}, error ${status.last_error ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function writeMarker(source: { host: string; port: number; user: string; password: string }): Promise<{ id: number; at: string }> {
  const sql = await connectSql(source);
  try {
    await sql.execute('INSERT INTO docker.repl_status (`ts`) VALUES (NOW(6))');
    const rows = await sql.query<{ id: number; at: string }>('SELECT id, CAST(`ts` AS CHAR) AS at FROM docker.repl_status WHERE id = LAST_INSERT_ID()');
    const row = rows[0];
    if (!row) throw new InternalError('could not read back the marker row');
    return row;
  } finally {
    await sql.close();
  }
}

/** Whether the clone holds the row `id` of docker.repl_status (read over TCP, as its users would). */
export async function rowInClone(clone: CloneView, id: number): Promise<boolean> {
  const sql = await connectSql({ host: clone.host, port: clone.port, user: clone.user, password: clone.password });
  try {
    const rows = await sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM docker.repl_status WHERE id = ?', [id]);
    return Number(rows[0]?.n ?? 0) === 1;
  } finally {
    await sql.close();
  }
}
