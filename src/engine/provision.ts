import { labelsFor } from '../labels.js';
import { copyAccounts, createRoles } from '../mysql/accounts.js';
import { cloneFromDonor, cloneOutcome } from '../mysql/clone-plugin.js';
import { copyDatabases } from '../mysql/dump.js';
import { copyDatabasesParallel } from '../mysql/parallel-dump.js';
import type { SourceInfo } from '../mysql/source-check.js';
import { connectSql, type ConnectOptions, type SqlClient } from '../mysql/sql-client.js';
import { sourceConnectOptions, tlsEnforced } from '../mysql/source-tls.js';
import { CONTAINER_CA_PATH, replicaCaPath } from './source-tls.js';
import type { Replica } from '../state/state.js';
import type { DataMount } from '../storage/driver.js';
import { FailedPreconditionError, messageOf } from '../errors.js';
import type { EngineDeps } from './context.js';
import { containerName } from '../runtime/docker-runtime.js';
import { restoreBackup, type BackupInput } from './restore-backup.js';
import { ADMIN_USER, replicaHostOf, restartReplicaServer } from './servers.js';
import type { SourceSpec } from './source-url.js';
import type { ProvisionMethod } from './provision-method.js';

/** The three ways `replica init` makes the first copy (see provision-method.ts). */
export type { ProvisionMethod };

export interface Copied {
  gtid: string;
  bytes: number;
  parallel?: ParallelFigures;
}

/** What a parallel dump reports: its data sessions, how long the source's commits waited, what it split. */
export interface ParallelFigures {
  sessions: number;
  ranges: number;
  lock_ms: number;
  split_column: string | null;
  split_tables: number;
}

/** What every method needs to know. */
export interface ProvisionContext {
  /** The source as dolly's own clients reach it (the dump, the account copy). */
  source: SourceSpec;
  /** The source as the replica's server reaches it (MySQL's CLONE pulls from there). */
  replicaSource: SourceSpec;
  info: SourceInfo & { tls: boolean };
  replica: Replica;
  connect: ConnectOptions;
  image: string;
  /** Dump sessions sharing one snapshot (MariaDB); 1 is one stream. */
  sessions: number;
  onProgress?: (bytes: number, estimatedTotal: number) => void;
  signal?: AbortSignal;
}

/** The logical copy: dump from the source, load into the replica's socket (in parallel sessions for MariaDB). */
export async function dumpInto(ctx: ProvisionContext, deps: EngineDeps): Promise<Copied> {
  const { source, info, replica, connect, image, onProgress, signal } = ctx;
  await createSourceRoles(source, connect, info.flavor, deps);
  deps.logger.info('copying databases from the source', { databases: info.databases, estimated_bytes: info.sizeBytes, sessions: ctx.sessions });
  const options = {
    source: { host: source.host, port: source.port, user: source.user, password: source.password, ...(source.tls ? { tls: source.tls } : {}), ...(source.tls?.ca !== undefined ? { caFile: replicaCaPath(deps.root) } : {}) },
    databases: info.databases,
    flavor: info.flavor,
    target: { socketPath: connect.socketPath ?? '', user: replica.admin_user, password: replica.admin_password },
    onProgress: (bytes: number) => onProgress?.(bytes, info.sizeBytes),
    ...(signal ? { signal } : {}),
  };
  if (info.flavor === 'mariadb' && ctx.sessions > 1) {
    const { bytes, gtid, ...parallel } = await copyDatabasesParallel({ ...options, sessions: ctx.sessions });
    deps.logger.info('parallel copy done', { ...parallel });
    return { bytes, gtid, parallel };
  }
  // The host has MariaDB's client tools; MySQL's come from the replica's own image.
  return copyDatabases({ ...options, ...(info.flavor === 'mysql' ? { toolsImage: image, toolsLabels: labelsFor(deps.root, 'copy', 'replica-copy') } : {}) });
}

/** The restore's throwaway containers, as runtime names: a job journals their removal (see initReplica). */
export const RESTORE_UNPACK = 'replica-restore-unpack';
export const RESTORE_PREPARE = 'replica-restore-prepare';

/** The physical copy: the backup unpacked and prepared in the replica's volume, before its server starts. */
export async function restoreInto(input: BackupInput, data: DataMount, ctx: ProvisionContext, deps: EngineDeps): Promise<Copied> {
  if (data.kind !== 'path') throw new FailedPreconditionError('--method backup needs a pool whose volumes are directories (btrfs or copy)', { hint: 'use --method dump with the commit driver' });
  deps.logger.info('restoring the backup into the replica volume', { from: input.kind === 'directory' ? input.path : 'stdin' });
  const names = { unpack: containerName(deps.root, RESTORE_UNPACK), prepare: containerName(deps.root, RESTORE_PREPARE) };
  const restored = await restoreBackup(
    { input, target: data.path, image: ctx.image, names, labels: labelsFor(deps.root, 'copy', 'replica-restore'), onProgress: (bytes) => ctx.onProgress?.(bytes, ctx.info.sizeBytes), ...(ctx.signal ? { signal: ctx.signal } : {}) },
    deps.shell,
  );
  deps.logger.info('backup prepared', { gtid: restored.position.gtid, binlog: `${restored.position.file}:${restored.position.position}` });
  return { gtid: restored.position.gtid, bytes: restored.bytes };
}

/** The source's roles, made empty in the replica before the load, so definers that name a role resolve (see createRoles). */
async function createSourceRoles(source: SourceSpec, connect: ConnectOptions, flavor: 'mariadb' | 'mysql', deps: EngineDeps): Promise<void> {
  if (flavor !== 'mariadb') return;
  const from = await connectSql(sourceConnectOptions(source));
  try {
    const to = await connectSql(connect);
    try {
      const roles = await createRoles(from, to, flavor);
      if (roles.length > 0) deps.logger.info(`made ${roles.length} role(s) of the source before the copy`, { roles });
    } finally {
      await to.close();
    }
  } catch (error) {
    // Without the source's mysql.* (a user without SELECT on it) the account copy says so later.
    deps.logger.debug('the source\'s roles could not be made before the copy', { reason: messageOf(error) });
  } finally {
    await from.close();
  }
}

/** Copies the source's accounts into the replica, warning about each one that could not be. */
export async function copySourceAccounts(source: SourceSpec, admin: SqlClient, flavor: 'mariadb' | 'mysql', warnings: string[], deps: EngineDeps): Promise<void> {
  const accountSource = await connectSql(sourceConnectOptions(source));
  try {
    const accounts = await copyAccounts(accountSource, admin, flavor, [ADMIN_USER]);
    deps.logger.info(`copied ${accounts.copied.length} account(s) from the source`);
    for (const problem of accounts.problems) {
      const warning = `account not copied: ${problem}`;
      warnings.push(warning);
      deps.logger.warn(warning);
    }
  } finally {
    await accountSource.close();
  }
}

/**
 * The MySQL CLONE: the empty replica, already running, pulls the source's datadir; it shuts down
 * when the copy is in, is started again here (its init file puts dolly's admin account back into
 * the copied accounts), and reports the GTID set the copy holds.
 */
export async function cloneInto(ctx: ProvisionContext, deps: EngineDeps): Promise<Copied> {
  const recipient = await connectSql(ctx.connect);
  try {
    deps.logger.info('cloning the source with the CLONE plugin', { from: `${ctx.source.host}:${ctx.source.port}`, estimated_bytes: ctx.info.sizeBytes });
    const source = ctx.replicaSource;
    const donor = { host: source.host, port: source.port, user: source.user, password: source.password, tls: ctx.info.tls || tlsEnforced(source.tls), ...(source.tls?.ca !== undefined ? { caFile: CONTAINER_CA_PATH } : {}) };
    await cloneFromDonor(recipient, donor, ctx.info.version);
  } finally {
    await recipient.close().catch(() => undefined);
  }
  await replicaHostOf(deps).stop().catch(() => undefined);
  await restartReplicaServer(deps, ctx.connect, ctx.signal);
  const admin = await connectSql(ctx.connect);
  try {
    const outcome = await cloneOutcome(admin);
    ctx.onProgress?.(outcome.bytes, ctx.info.sizeBytes);
    deps.logger.info('clone complete', { gtid: outcome.gtid, binlog: `${outcome.binlog.file}:${outcome.binlog.position}` });
    return { gtid: outcome.gtid, bytes: outcome.bytes };
  } finally {
    await admin.close();
  }
}

