import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { waitForServer } from '../mysql/wait-ready.js';
import type { ConnectOptions } from '../mysql/sql-client.js';
import { replicationFilterArgs } from '../mysql/replication.js';
import { REPLICA_MARKER, defaultApplyThreads, type ApplySettings } from '../mysql/server-args.js';
import type { ServerSpec } from '../runtime/runtime.js';
import type { Clone, Replica, State } from '../state/state.js';
import type { DataMount } from '../storage/driver.js';
import { prepareRunDir, runDir, type EngineDeps } from './context.js';
import { CLONE_TLS_FILES, caPath, issueServerCert } from './tls.js';
import { cloneContainerLimits, cloneLimits, cloneServerArgs, replicaContainerLimits } from './clone-limits.js';
import { CLONE_PRIVILEGES, accountInitSql, productionAccountInitSql } from './server-config.js';
import { REPLICA_SERVER, localReplicaHost, type ReplicaHost } from './replica-host.js';
import { replicaBinlogMount } from './pitr-binlog.js';

export const REPLICA = REPLICA_SERVER;
export const REPLICA_VOLUME = 'replica';
export const ADMIN_USER = 'dolly_admin';
export const CLONE_USER = 'dolly';

/** How long a server may take to answer after its container started (recovery, first init). */
const READY_TIMEOUT_MS = 300_000;
/** Restarts by its restart policy a server may need while it comes up (the replica only has one). */
const RESTARTS_WHILE_STARTING = 2;

export function cloneServerName(name: string): string {
  return `clone-${name}`;
}

/** Admin connection to the replica over its unix socket (it listens on no TCP port). */
export function replicaConnectOptions(root: string, replica: Pick<Replica, 'admin_user' | 'admin_password'>): ConnectOptions {
  return { socketPath: join(runDir(root, REPLICA), 'mysqld.sock'), user: replica.admin_user, password: replica.admin_password };
}

/** The host address a client uses to reach a clone (a wildcard bind is reached on loopback). */
export function clientHost(bindAddress: string): string {
  return bindAddress === '0.0.0.0' || bindAddress === '::' ? '127.0.0.1' : bindAddress;
}

/** The flavor of a clone's server: its snapshot's (MariaDB if the snapshot is gone). */
export function cloneFlavor(state: State, clone: Clone): 'mariadb' | 'mysql' {
  return state.snapshots.find((s) => s.id === clone.snapshot)?.flavor ?? 'mariadb';
}

/** How dolly itself reaches a clone (readiness, activity): over TLS verified with the root's CA where clones serve it. */
export function cloneConnectOptions(state: State, clone: Clone): ConnectOptions {
  const ca = state.settings.clone_tls === false ? null : readCa(state.root);
  return { host: clientHost(state.settings.bind_address), port: clone.port, user: clone.user, password: clone.password, ...(ca !== null ? { tls: { verify: 'ca', ca } } : {}) };
}

/** The root's CA certificate, or null (a root made before clones served TLS, until its first new clone). */
export function readCa(root: string): string | null {
  try {
    return readFileSync(caPath(root), 'utf8');
  } catch {
    return null;
  }
}

/** How the replica applies: what `replica init` chose, else workers sized for this host and commits synced about once a second. */
export function replicaApply(replica: Pick<Replica, 'apply'>): ApplySettings {
  return { threads: replica.apply?.threads ?? defaultApplyThreads(availableParallelism()), durableCommits: replica.apply?.durable_commits ?? false };
}

/** Writes the replica's run dir and returns its server spec. */
export async function replicaSpec(deps: EngineDeps, state: State, replica: Pick<Replica, 'admin_user' | 'admin_password' | 'server_id' | 'replicate_only' | 'apply' | 'pitr'>, data: DataMount, flavorName: 'mariadb' | 'mysql'): Promise<ServerSpec> {
  // Not logged: the replica's own binlog (point-in-time clones) holds only what it applied.
  const dir = await prepareRunDir(deps.root, REPLICA, `SET SESSION sql_log_bin = 0;\n${accountInitSql(replica.admin_user, ['localhost', '127.0.0.1'], replica.admin_password)}`);
  const apply = replicaApply(replica);
  const binlog = replica.pitr ? await replicaBinlogMount(deps.driver(state), replica.pitr, apply.durableCommits) : undefined;
  // The driver found the volume, so the pool is mounted: mark it (a replica of dolly 0.1 has no mark yet).
  if (data.kind === 'path') await writeFile(join(data.path, REPLICA_MARKER), 'dolly replica volume\n', { flag: 'a' });
  return {
    restart: 'on-failure',
    name: REPLICA,
    kind: 'replica',
    image: state.settings.image,
    volume: REPLICA_VOLUME,
    data,
    runDir: dir,
    server: { flavor: flavorName, serverId: replica.server_id, role: 'replica', bufferPool: '256M', args: replicationFilterArgs(replica.replicate_only), requireMarker: data.kind === 'path', apply, ...(binlog ? { binlog: binlog.binlog } : {}) },
    ...(binlog ? { extraMounts: [binlog.mount] } : {}),
    network: 'host',
    limits: replicaContainerLimits(),
  };
}

/** Writes a clone's run dir and returns its server spec. */
export async function cloneSpec(deps: EngineDeps, state: State, clone: Clone, data: DataMount, flavorName: 'mariadb' | 'mysql'): Promise<ServerSpec> {
  const server = cloneServerName(clone.name);
  const admin = clone.admin === true;
  const isolated = state.settings.clone_network !== 'host';
  const initSql = clone.production_account ? productionAccountInitSql(clone.user, clone.password) : accountInitSql(clone.user, ['%'], clone.password, admin ? 'ALL' : CLONE_PRIVILEGES);
  const dir = await prepareRunDir(deps.root, server, initSql);
  const tls = state.settings.clone_tls !== false;
  const limits = cloneLimits(state.settings);
  if (tls) await issueServerCert(deps.root, dir, clone.name, [clientHost(state.settings.bind_address), state.settings.bind_address], deps.shell);
  return {
    name: server,
    kind: 'clone',
    image: state.settings.image,
    volume: clone.volume,
    data,
    runDir: dir,
    server: { flavor: flavorName, serverId: clone.server_id, role: 'clone', bufferPool: state.settings.buffer_pool, admin, ...(tls ? { tls: CLONE_TLS_FILES } : {}), limits: cloneServerArgs(flavorName, limits) },
    network: isolated ? 'isolated' : 'host',
    port: clone.port,
    bindAddress: state.settings.bind_address,
    limits: cloneContainerLimits(limits),
  };
}

/** Starts a spec and waits until a real query answers; removes the container if it never does. */
export async function startAndWait(deps: EngineDeps, spec: ServerSpec, connect: ConnectOptions, signal?: AbortSignal): Promise<number> {
  const server = serverControl(deps, spec.name);
  await server.start(spec);
  try {
    return await waitUntilAnswering(deps, spec.name, connect, signal);
  } catch (error) {
    await server.remove().catch(() => undefined);
    throw error;
  }
}

/** The root's replica host: the one its composition root gave, else a container on its engine. */
export function replicaHostOf(deps: EngineDeps): ReplicaHost {
  return deps.replicaHost ?? localReplicaHost(deps.runtime);
}

/** Starts the stopped replica's server again and waits until it answers. */
export async function restartReplicaServer(deps: EngineDeps, connect: ConnectOptions, signal?: AbortSignal): Promise<number> {
  await replicaHostOf(deps).startExisting();
  return waitUntilAnswering(deps, REPLICA, connect, signal);
}

/**
 * How the engine starts, watches and removes one of its servers: the replica through its host
 * (wherever it runs), any other by its runtime name. The one place that tells them apart.
 */
export function serverControl(deps: EngineDeps, server: string): Pick<ReplicaHost, 'start' | 'inspect' | 'logs' | 'remove'> {
  if (server === REPLICA) return replicaHostOf(deps);
  return {
    start: async (spec) => {
      await deps.runtime.start(spec);
    },
    inspect: async () => {
      const info = await deps.runtime.inspect(server).catch(() => null);
      return { state: info?.state ?? 'missing', restarts: info?.restarts ?? 0 };
    },
    logs: (tail) => deps.runtime.logs(server, tail),
    remove: () => deps.runtime.remove(server),
  };
}

/** Waits for a running server to answer, failing fast (with its last log lines) if it exits. */
export async function waitUntilAnswering(deps: EngineDeps, server: string, connect: ConnectOptions, signal?: AbortSignal): Promise<number> {
  // A server with a restart policy may be restarted a few times while it comes up (a first
  // initialisation that died is made again); more than that, or any restart of a server without
  // one, counts as dead.
  const target = serverControl(deps, server);
  const restarts = (await target.inspect().catch(() => null))?.restarts ?? 0;
  try {
    return await waitForServer(connect, {
      timeoutMs: READY_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
      alive: async () => {
        const info = await target.inspect().catch(() => null);
        if (info === null || info.state === 'missing' || info.restarts > restarts + RESTARTS_WHILE_STARTING) return false;
        return info.state === 'running' || info.restarts > restarts;
      },
    });
  } catch (error) {
    const dir = runDir(deps.root, server);
    const errorLog = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    const initLog = await readFile(join(dir, 'init-datadir.log'), 'utf8').catch(() => '');
    // The first errors of a failed initialisation go last: the last lines are the ones logged.
    const initErrors = initLog.split('\n').filter((line) => line.includes('[ERROR]')).slice(0, 3);
    const logs = `${await target.logs(20).catch(() => '')}\n${errorLog}\n${initErrors.join('\n')}`.trim();
    if (logs !== '') deps.logger.error('server did not become ready', { server, log: logs.split('\n').slice(-6) });
    throw error;
  }
}
