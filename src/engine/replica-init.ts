import { failpoint } from '../failpoint.js';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, SourceError } from '../errors.js';
import { buildImage, ensureImage, ENGINES, imageEngine, imageExists, type EngineImage } from '../docker/image-build.js';
import { chooseImage, majorMinor, type SourceEngine } from './image-choice.js';
import { replicaStatus, startReplication } from '../mysql/replication.js';
import { checkSource } from '../mysql/source-check.js';
import { connectSql, type SqlClient } from '../mysql/sql-client.js';
import { sourceConnectOptions, tlsEnforced } from '../mysql/source-tls.js';
import { assertTlsFitsMethod, installReplicaCa, keepSourceCa, replicationTls } from './source-tls.js';
import type { BackupInput } from './restore-backup.js';
import { checkCloneDonor } from '../mysql/clone-plugin.js';
import { MAX_SESSIONS } from '../mysql/parallel-dump.js';
import { RESTORE_PREPARE, RESTORE_UNPACK, cloneInto, copySourceAccounts, dumpInto, restoreInto, type ParallelFigures, type ProvisionContext, type ProvisionMethod } from './provision.js';
import type { Replica } from '../state/state.js';
import type { EngineDeps } from './context.js';
import type { ReplicaHost } from './replica-host.js';
import type { StorageDriver } from '../storage/driver.js';
import { withJob, type JobRun } from './jobs.js';
import { reconcile } from './reconcile.js';
import { generatePassword, generateServerId } from './names.js';
import { ADMIN_USER, REPLICA, REPLICA_VOLUME, replicaConnectOptions, replicaHostOf, replicaSpec, startAndWait } from './servers.js';
import type { SourceSpec } from './source-url.js';

export interface ReplicaInitOptions {
  /** Where the source is; its `tls` says how every connection to it uses TLS (absent: preferred). */
  source: SourceSpec;
  /** Default `dump`. `backup` restores `backup` (a mariadb-backup backup of the source); `clone` is MySQL's CLONE. */
  method?: ProvisionMethod;
  backup?: BackupInput;
  /** Databases to copy; all user databases when absent. */
  databases?: string[];
  /**
   * `--method dump` of a MariaDB source: sessions sharing one snapshot (1 = one stream; default 2,
   * the best measured on 2 cores). MySQL sources copy through one stream.
   */
  parallel?: number;
  /** Parallel applier workers (0: one applier thread); default: sized for the host at each start. */
  applyThreads?: number;
  /** An fsync of the replica's redo log per applied transaction (default: about once a second). */
  durableCommits?: boolean;
  /** Called as the dump streams: bytes so far, and the source's data size as an estimate. */
  onProgress?: (bytes: number, estimatedTotal: number) => void;
  signal?: AbortSignal;
}

export interface ReplicaInitResult {
  method: ProvisionMethod;
  /** How a parallel dump ran (absent for one stream). */
  parallel?: ParallelFigures;
  flavor: string;
  version: string;
  /** The server image the replica (and every clone) runs: the root's, or the one chosen for the source. */
  image: string;
  databases: string[];
  gtid: string;
  copied_bytes: number;
  seconds: number;
  warnings: string[];
}

/**
 * `dolly replica init`: checks the source, starts the replica's server on a pool volume, streams a
 * consistent copy into it and starts GTID replication from exactly the copy's position. On any
 * failure the container, volume and run dir it made are removed.
 */
export async function initReplica(options: ReplicaInitOptions, deps: EngineDeps): Promise<ReplicaInitResult> {
  const started = Date.now();
  const method = options.method ?? 'dump';
  if (method === 'backup' && !options.backup) throw new InvalidArgumentError('--method backup needs --backup DIR or --backup - (a stream on stdin)', { hint: 'e.g. `mariadb-backup --backup --stream=xbstream | dolly replica init --method backup --backup - --source URL`' });
  if (method !== 'dump' && options.databases) throw new InvalidArgumentError(`--databases does not apply to --method ${method}: a physical copy holds every database`, { hint: 'drop --databases, or use --method dump' });
  if (method !== 'backup' && options.backup) throw new InvalidArgumentError('--backup applies only to --method backup', { hint: 'add --method backup, or drop --backup' });
  checkParallel(options.parallel, method);
  checkApplyThreads(options.applyThreads);
  assertTlsFitsMethod(options.source.tls, method);
  await reconcile(deps);
  const { source } = options;
  const host = replicaHostOf(deps);
  return withJob(
    deps,
    'replica-init',
    (state) => {
      if (state.replica) {
        throw new AlreadyExistsError(`${deps.root} already has a replica of ${state.replica.source.host}:${state.replica.source.port}`, {
          hint: 'use it, or start over with `dolly teardown --purge` (or another --root)',
        });
      }
      const replica: Replica = {
        status: 'creating',
        volume: REPLICA_VOLUME,
        port: 0,
        server_id: host.serverId ?? generateServerId(),
        admin_user: ADMIN_USER,
        admin_password: generatePassword(),
        source: { host: source.host, port: source.port, user: source.user, flavor: 'mariadb', version: '', ...(source.tls ? { tls_mode: source.tls.mode } : {}) },
        databases: [],
        created_at: deps.now().toISOString(),
        ...applyChoice(options),
      };
      state.replica = replica;
      return { target: REPLICA, undo: [{ do: 'forget-replica' }], reserved: replica };
    },
    async (job, reserved) => {
      await failpoint('replica-init.reserved');
      // dolly's own clients reach the source as its replica host says (a Swarm: through the replica's task).
      const reach = await host.sourceForDolly(source);
      try {
        const sourceClient = await connectSql(sourceConnectOptions(reach.source));
        const info = await (async () => {
          try {
            const checked = await checkSource(sourceClient, options.databases ? { databases: options.databases } : {});
            if (method === 'clone') await checkCloneDonor(sourceClient, checked, source.user);
            return { ...checked, tls: await offersTls(sourceClient) };
          } finally {
            await sourceClient.close();
          }
        })();
        const warnings: string[] = [];
        if (info.nonInnodbTables.length > 0) {
          const names = info.nonInnodbTables.slice(0, 5).map((t) => `${t.schema}.${t.table} (${t.engine})`);
          const warning = `${info.nonInnodbTables.length} non-InnoDB table(s), e.g. ${names.join(', ')}: they are copied, but a snapshot can only make them consistent by blocking commits, and a crash of the replica may leave them damaged`;
          warnings.push(warning);
          deps.logger.warn(warning);
        }
        const image = host.image !== undefined ? await hostImage(job, host.image, info, deps) : await replicaImage(job, info, method, deps);
        const state = deps.store.require();
        await ensureImage(deps.docker, image, deps.logger);
        const engine = await imageEngine(deps.docker, image);
        assertEngineFits(engine, image, info);
        if (method === 'backup') assertBackupFits(engine, image, info);
        if (info.flavor !== 'mariadb' && (options.parallel ?? 1) > 1) {
          throw new FailedPreconditionError(`--parallel ${options.parallel} copies MariaDB sources; the source is ${info.flavor} ${info.version}`, { hint: 'drop --parallel (one mysqldump stream), or use --method clone' });
        }
        const driver = deps.driver(state);
        await driver.open();
        const replica: Replica = {
          ...reserved,
          source: { ...reserved.source, flavor: info.flavor, version: info.version },
          databases: info.databases,
          ...(options.databases ? { replicate_only: info.databases } : {}),
        };
        job.update((s) => {
          s.replica = replica;
        });
        await removeLeftoverVolume(driver, host, deps);
        job.willUndo({ do: 'remove-volume', id: REPLICA_VOLUME });
        const data = await driver.createVolume(REPLICA_VOLUME);
        await failpoint('replica-init.volume');
        job.willUndo({ do: 'remove-run-dir', server: REPLICA }, { do: 'remove-server', name: REPLICA });
        // The replica's server (IO thread, CLONE) and a dump's tools container read the CA in its run dir.
        if (source.tls?.ca !== undefined) await installReplicaCa(deps.root, source.tls.ca);
        const connect = replicaConnectOptions(deps.root, replica);
        const sessions = options.parallel ?? (info.flavor === 'mariadb' ? DEFAULT_PARALLEL : 1);
        const ctx: ProvisionContext = { source: reach.source, replicaSource: host.sourceForReplica(source), info, replica, connect, image, sessions, ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.signal ? { signal: options.signal } : {}) };
        if (method === 'backup') job.willUndo({ do: 'remove-server', name: RESTORE_UNPACK }, { do: 'remove-server', name: RESTORE_PREPARE });
        const restored = options.backup && method === 'backup' ? await restoreInto(options.backup, data, ctx, deps) : null;
        const spec = await replicaSpec(deps, state, replica, data, info.flavor);
        await startAndWait(deps, spec, connect, options.signal);
        await failpoint('replica-init.started');
        const copied = restored ?? (method === 'clone' ? await cloneInto(ctx, deps) : await dumpInto(ctx, deps));
        await failpoint('replica-init.copied');
        const admin = await connectSql(connect);
        try {
          // The source's accounts, so every DEFINER resolves (their later changes come by replication);
          // a physical copy has them already.
          if (method === 'dump') await copySourceAccounts(reach.source, admin, info.flavor, warnings, deps);
          if (!info.tls && !tlsEnforced(source.tls)) deps.logger.warn('the source offers no TLS: replication from it runs unencrypted');
          const replicaSource = host.sourceForReplica(source);
          const endpoint = { host: replicaSource.host, port: replicaSource.port, user: source.user, password: source.password, ...replicationTls(source.tls, info.tls) };
          await startReplication(admin, info.flavor, endpoint, copied.gtid, replica.replicate_only ? { databases: replica.replicate_only } : {});
          await assertReplicationStarted(admin, info.flavor);
        } finally {
          await admin.close();
        }
        await keepSourceCa(deps.root, source.tls);
        await failpoint('replica-init.replicating');
        await job.commit((s) => {
          if (s.replica) s.replica.status = 'ready';
        });
        return {
          method,
          ...(copied.parallel ? { parallel: copied.parallel } : {}),
          flavor: info.flavor,
          version: info.version,
          image,
          databases: info.databases,
          gtid: copied.gtid,
          copied_bytes: copied.bytes,
          seconds: (Date.now() - started) / 1000,
          warnings,
        };
      } finally {
        await reach.close();
      }
    },
  );
}

/**
 * A `replica` volume while the state has no replica holds nothing of value: the empty datadir a
 * Swarm replica service made when `swarm deploy` started it, or what a crash left. Its server is
 * stopped (a service scaled to none) and the volume removed, so the copy goes into a new one.
 */
async function removeLeftoverVolume(driver: StorageDriver, host: ReplicaHost, deps: EngineDeps): Promise<void> {
  if (!(await driver.exists(REPLICA_VOLUME))) return;
  deps.logger.info('removing the empty replica volume before the copy', { volume: REPLICA_VOLUME });
  await host.remove();
  await driver.remove(REPLICA_VOLUME);
}

/**
 * The replica's image: the root's own, or for a root made without --image (Settings.image_auto)
 * the one the source needs (chooseImage), built when missing and recorded in the settings, so
 * snapshots' and clones' servers (and the commit driver's new volumes) run it too.
 */
async function replicaImage(job: JobRun, info: SourceEngine, method: ProvisionMethod, deps: EngineDeps): Promise<string> {
  const { settings } = deps.store.require();
  if (settings.image_auto !== true) return settings.image;
  // A backup of MySQL is refused by its own words, before anything is chosen or built.
  if (method === 'backup') assertBackupFits(null, '', info);
  const engine = chooseImage(info, method);
  deps.logger.info(`the source runs ${info.flavor} ${info.version}: the replica and its clones run ${engine.tag}`);
  await buildWithProgress(engine, deps);
  recordImage(job, engine.tag);
  return engine.tag;
}

/**
 * The image the replica's host runs (a Swarm service's, from its spec). Snapshots and clones run
 * the root's image: for a root made without --image it becomes the host's; an image chosen with
 * --image must fit the source too (a MariaDB image cannot run a MySQL replica's snapshots).
 */
async function hostImage(job: JobRun, image: string, info: SourceEngine, deps: EngineDeps): Promise<string> {
  const { settings } = deps.store.require();
  if (settings.image === image) return image;
  if (settings.image_auto === true) {
    recordImage(job, image);
    return image;
  }
  if (await imageExists(deps.docker, settings.image)) assertEngineFits(await imageEngine(deps.docker, settings.image), settings.image, info);
  return image;
}

/** The root's image from now on (its snapshots' and clones' servers, the commit driver's new volumes). */
function recordImage(job: JobRun, image: string): void {
  job.update((s) => {
    s.settings.image = image;
    if (s.pool.driver === 'commit') s.pool['baseImage'] = image;
  });
}

/** Builds an engine's image when it is missing (or of an older recipe), with a log line every 15 s while it builds. */
async function buildWithProgress(engine: EngineImage, deps: EngineDeps): Promise<void> {
  const started = Date.now();
  const timer = setInterval(() => deps.logger.info(`building ${engine.tag} (about 2 minutes, once)`, { seconds: Math.round((Date.now() - started) / 1000) }), 15_000);
  timer.unref();
  try {
    await buildImage({ engine }, { docker: deps.docker, shell: deps.shell, logger: deps.logger });
  } finally {
    clearInterval(timer);
  }
}

/** Sessions of a MariaDB dump when --parallel is not given (BENCHMARKS.md: 2 beat 1 and 4 on 2 cores). */
export const DEFAULT_PARALLEL = 2;

/** `--parallel`: a whole number of sessions, 1 to MAX_SESSIONS, for --method dump only. */
export function checkParallel(parallel: number | undefined, method: ProvisionMethod): void {
  if (parallel === undefined) return;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_SESSIONS) {
    throw new InvalidArgumentError(`--parallel takes a whole number of sessions from 1 to ${MAX_SESSIONS}, not ${parallel}`, { hint: `e.g. --parallel 2 (the default for MariaDB); 1 copies through one stream` });
  }
  if (method !== 'dump') throw new InvalidArgumentError(`--parallel applies to --method dump, not --method ${method}`, { hint: 'drop --parallel' });
}

/**
 * A physical backup is a MariaDB datadir: it is prepared, and then run, by the same major.minor
 * as the source that made it (a newer server would upgrade the files in place, unlike replication).
 */
export function assertBackupFits(engine: { flavor: string; version: string } | null, image: string, source: { flavor: string; version: string }): void {
  if (source.flavor !== 'mariadb') {
    throw new FailedPreconditionError(`--method backup restores mariadb-backup backups of MariaDB; the source is ${source.flavor} ${source.version}`, { hint: 'use --method dump (XtraBackup, for MySQL, is not in Debian)' });
  }
  const wanted = majorMinor(source.version).join('.');
  if (engine && majorMinor(engine.version).join('.') !== wanted) {
    const fitting = ENGINES.find((e) => e.flavor === 'mariadb' && e.version === wanted);
    throw new FailedPreconditionError(`a backup of MariaDB ${wanted} must be prepared by mariadb-backup ${wanted}; the image ${image} runs ${engine.version}`, {
      hint: fitting ? `make the root with --image ${fitting.tag}, or use --method dump` : 'use --method dump',
    });
  }
}

/** Waits a few seconds for the IO thread to connect; a wrong host or grant shows up here. */
export async function assertReplicationStarted(admin: Awaited<ReturnType<typeof connectSql>>, flavor: 'mariadb' | 'mysql'): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await replicaStatus(admin, flavor);
    if (status.io_running && status.sql_running) return;
    if (status.last_error && Date.now() > deadline - 10_000) {
      throw new SourceError(`replication did not start: ${status.last_error}`, { hint: 'check that the replica can reach the source and that the user has REPLICATION SLAVE' });
    }
    if (Date.now() > deadline) {
      throw new SourceError(`replication did not start (IO thread: ${status.io_state || 'not running'})`, { hint: 'check that the replica can reach the source from the Docker host' });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A replica runs the source's flavor at the same or a newer version: an older server cannot apply
 * what a newer one writes (new row formats, new SQL), and MySQL and MariaDB binlogs do not mix.
 * Images dolly did not build (no labels) are not checked.
 */
export function assertEngineFits(engine: { flavor: string; version: string } | null, image: string, source: { flavor: string; version: string }): void {
  if (engine === null) return;
  const version = /^\d+(\.\d+)*/.exec(source.version)?.[0] ?? source.version;
  const fitting = ENGINES.filter((e) => e.flavor === source.flavor && compare(majorMinor(e.version), majorMinor(version)) >= 0);
  const hint =
    fitting.length > 0
      ? `make a new root with --image ${fitting.map((e) => e.tag).join(' or ')} (\`dolly images build --engine ${fitting[0]?.name ?? ''}\`)`
      : `no image dolly builds fits a ${source.flavor} ${version} source yet`;
  if (engine.flavor !== source.flavor) throw new FailedPreconditionError(`the source is ${source.flavor} ${version} but the image ${image} runs ${engine.flavor} ${engine.version}`, { hint });
  if (compare(majorMinor(engine.version), majorMinor(version)) < 0) {
    throw new FailedPreconditionError(`the image ${image} runs ${engine.flavor} ${engine.version}, older than the source's ${version}: a replica must not be older than its source`, { hint });
  }
}

function compare(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/**
 * Whether the source accepts TLS connections (`have_ssl`): replication uses TLS when it does and
 * says plainly when it cannot. MariaDB 11.4+ replicas require TLS unless told otherwise, so the
 * choice is always made explicitly. Unknown (the variable is gone, as in MySQL 9): assumed yes.
 */
async function offersTls(client: SqlClient): Promise<boolean> {
  const [row] = await client.query<{ Value?: unknown }>("SHOW GLOBAL VARIABLES LIKE 'have_ssl'");
  return row === undefined || String(row.Value ?? '').toUpperCase() === 'YES';
}

/** The most applier workers `--apply-threads` takes. */
const MAX_APPLY_THREADS = 64;

function checkApplyThreads(threads: number | undefined): void {
  if (threads === undefined) return;
  if (!Number.isInteger(threads) || threads < 0 || threads > MAX_APPLY_THREADS) {
    throw new InvalidArgumentError(`--apply-threads must be a whole number from 0 to ${MAX_APPLY_THREADS}, not ${threads}`, { hint: 'leave it out for workers sized for the host; 0 applies with one thread' });
  }
}

/** What the user chose of the replica's apply settings, as stored (nothing: the defaults at each start). */
function applyChoice(options: Pick<ReplicaInitOptions, 'applyThreads' | 'durableCommits'>): Pick<Replica, 'apply'> {
  if (options.applyThreads === undefined && options.durableCommits !== true) return {};
  return { apply: { ...(options.applyThreads !== undefined ? { threads: options.applyThreads } : {}), ...(options.durableCommits === true ? { durable_commits: true } : {}) } };
}
