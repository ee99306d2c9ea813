import { Option, type Command } from '@commander-js/extra-typings';
import type { CloneView, SnapshotListItem } from '../model/wire.js';
import type { BackupInput } from '../engine/restore-backup.js';
import { InvalidArgumentError } from '../errors.js';
import { cliContext, type GlobalOptions } from './context.js';
import { secretPrompt } from './prompt.js';
import { formatBytes, formatDuration } from '../format.js';
import { freshText, lagText, snapshotLagText } from '../lag-text.js';
import { table } from './output.js';
import { byteProgress } from './progress.js';

type Root = Command<[], GlobalOptions>;

/** How to connect to a clone, for people. */
export function describeClone(clone: CloneView): string {
  const ready = clone.ready_ms === undefined ? '' : ` ready in ${(clone.ready_ms / 1000).toFixed(2)} s`;
  const life = [clone.expires_at ? `expires ${clone.expires_at}` : '', clone.protected_until ? `protected until ${clone.protected_until}` : ''].filter((p) => p !== '').join(', ');
  return [
    `clone ${clone.name}${ready} (snapshot ${clone.snapshot}${life ? `; ${life}` : ''})`,
    `  mariadb --host=${clone.host} --port=${clone.port} --user=${clone.user} --password='${clone.password}'`,
    `  ${clone.dsn}`,
    ...(clone.tls ? [`  TLS${clone.tls.required ? ` (required: ${clone.user} connects only over TLS)` : ''}: verify with the CA of --json's tls.ca (or GET /v1/ca.pem of the engine): mariadb --ssl-ca=ca.pem --ssl-verify-server-cert`] : []),
  ].join('\n');
}

/** What a snapshot is: of the replica, or a branch of a clone (whose, and whether shared). */
export function snapshotKind(s: Pick<SnapshotListItem, 'branch_of' | 'owner' | 'shared' | 'masked' | 'point'>): string {
  const masked = s.masked === true ? 'masked ' : '';
  if (s.point !== undefined) return `${masked}point at ${s.point.at}`;
  if (s.branch_of === undefined) return `${masked}replica`;
  return `${masked}branch of ${s.branch_of} by ${s.owner ?? 'local'}, ${s.shared ? 'shared' : 'private'}`;
}

/** Where a branch comes from, and whether a snapshot stays only for its clones. */
function snapshotNote(s: SnapshotListItem): string {
  const notes = [s.branch_of ? `from ${s.parent ?? '?'}` : '', s.point ? `replayed ${s.point.transactions} transactions on ${s.point.base}` : '', s.masked_from ? `masked from ${s.masked_from} (rules v${s.mask_version ?? '?'})` : '', s.scheduled ? 'scheduled' : '', s.past_retention ? 'past retention: kept for its clones' : '', s.status === 'ready' ? '' : s.status];
  return notes.filter((n) => n !== '').join('; ') || '-';
}

/** An option that takes a whole number (digits only), or undefined when not given. */
function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value.trim())) throw new InvalidArgumentError(`${flag} takes a whole number, not ${JSON.stringify(value)}`, { hint: `e.g. ${flag} 2` });
  return Number(value.trim());
}

/** `--backup DIR|-`: a directory that must exist, or stdin, which must not be a terminal. */
async function backupInput(value: string | undefined): Promise<BackupInput | undefined> {
  if (value === undefined) return undefined;
  if (value === '-') {
    if (process.stdin.isTTY) throw new InvalidArgumentError('--backup - reads an xbstream stream from stdin, but stdin is a terminal', { hint: 'pipe one in: `mariadb-backup --backup --stream=xbstream ... | dolly replica init --method backup --backup - ...`' });
    return { kind: 'stream', stream: process.stdin };
  }
  const { stat } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const path = resolve(value);
  if (!(await stat(path).then((s) => s.isDirectory(), () => false))) throw new InvalidArgumentError(`--backup ${value} is not a directory`, { hint: 'give the --target-dir of `mariadb-backup --backup`, or - for a stream on stdin' });
  return { kind: 'directory', path };
}

/** `replica …`, `snapshot …`, `clone …`. */
export function registerDataCommands(program: Root): void {
  const replica = program.command('replica').description('the replica of production');
  replica
    .command('init')
    .description('copy the source consistently and start GTID replication from it')
    .requiredOption('--source <url>', 'mysql://USER@HOST:PORT (the password: DOLLY_SOURCE_PASSWORD, --source-password-file, or a prompt)')
    .option('--source-password-file <file>', "a file whose first line is the source user's password")
    .option('--databases <list>', 'comma-separated databases (default: every user database)')
    .addOption(new Option('--method <method>', 'dump: a consistent logical copy over the network (any engine); backup: restore a mariadb-backup backup of the source (MariaDB); clone: the CLONE plugin pulls a physical copy (MySQL)').choices(['dump', 'backup', 'clone'] as const).default('dump' as const))
    .option('--backup <dir|->', 'with --method backup: the backup directory, or - for an xbstream stream on stdin (`mariadb-backup --backup --stream=xbstream`)')
    .option('--parallel <n>', 'with --method dump of a MariaDB source: dump sessions sharing one snapshot (1-8; default 2, 1 = one stream)')
    .option('--source-tls <mode>', 'TLS to the source: preferred (default: replication uses TLS where offered), required (every connection, unverified), verify-ca, verify-identity (with --source-ca)')
    .option('--source-ca <file>', "with --source-tls verify-ca|verify-identity: the CA (PEM) that signed the source's certificate")
    .option('--apply-threads <n>', "parallel applier workers, in the source's commit order (0-64; default: twice the host's cores, 4 to 16; 0: one applier thread)")
    .option('--durable-commits', "fsync the replica's redo log at each applied transaction (default: about once a second, safe: see README)")
    .option('--pitr-window <duration>', "point-in-time clones: the replica keeps what it applied as its own binlog for this long (e.g. 24h; see `replica pitr`)")
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const pitrWindow = opts.pitrWindow === undefined ? undefined : (await import('../engine/pitr-binlog.js')).parseWindow(opts.pitrWindow);
      const parallel = wholeNumber('--parallel', opts.parallel);
      const applyThreads = wholeNumber('--apply-threads', opts.applyThreads);
      const tls = await (await import('../engine/source-tls.js')).resolveSourceTls(opts.sourceTls, opts.sourceCa);
      const backup = await backupInput(opts.backup);
      const { parseSourceUrl, sourcePassword } = await import('../engine/source-url.js');
      const where = parseSourceUrl(opts.source);
      const prompt = secretPrompt(`password of ${where.user}@${where.host}:${where.port}: `);
      const source = { ...where, password: await sourcePassword({ ...(opts.sourcePasswordFile !== undefined ? { file: opts.sourcePasswordFile } : {}), ...(prompt ? { prompt } : {}) }), ...(tls ? { tls } : {}) };
      const databases = opts.databases?.split(',').map((d) => d.trim()).filter((d) => d !== '');
      const deps = await ctx.deps();
      const progress = byteProgress(ctx.logger, 'copying');
      try {
        const result = await (await import('../engine/replica-init.js')).initReplica({ source, method: opts.method, ...(backup ? { backup } : {}), ...(parallel !== undefined ? { parallel } : {}), ...(applyThreads !== undefined ? { applyThreads } : {}), ...(opts.durableCommits === true ? { durableCommits: true } : {}), ...(databases ? { databases } : {}), onProgress: (b, t) => progress.update(b, t), signal: ctx.signal }, deps);
        progress.stop();
        if (pitrWindow !== undefined) await (await import('../engine/pitr-manage.js')).setPitr(deps, pitrWindow);
        ctx.out.result(result, () => `replica of ${source.host}:${source.port} running: ${result.databases.join(', ')} ${result.method === 'backup' ? 'restored from the backup' : 'copied'} (${formatBytes(result.copied_bytes)} in ${result.seconds.toFixed(1)} s${result.parallel ? `, ${result.parallel.sessions} streams (${result.parallel.ranges} ranges of ${result.parallel.split_column ?? '-'}), commits held ${result.parallel.lock_ms} ms` : ''}), replicating from GTID ${result.gtid} (image ${result.image})`);
      } finally {
        progress.stop();
      }
    });
  replica
    .command('pitr')
    .description("point-in-time clones (`clone create --at`): the replica keeps what it applied as its own binlog for a window")
    .option('--window <duration>', 'keep this long (1m to 30d, e.g. 24h); turning it on restarts the replica once; points start from the next snapshot')
    .option('--base-interval <duration>', "with --window: the engine (`dolly serve`) takes a base point this often (10s to 24h; default 30s): a point replays at most this much of the source's writes")
    .option('--off', "stop keeping it (restarts the replica; the binlog is removed)")
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      if ((opts.window === undefined) === (opts.off !== true)) throw new InvalidArgumentError('give --window DURATION or --off', { hint: 'e.g. `dolly replica pitr --window 24h`' });
      const { parseWindow, parseBaseInterval } = await import('../engine/pitr-binlog.js');
      const windowS = opts.off === true ? 'off' : parseWindow(opts.window ?? '');
      const baseIntervalS = opts.baseInterval === undefined ? undefined : parseBaseInterval(opts.baseInterval);
      const change = await (await import('../engine/pitr-manage.js')).setPitr(await ctx.deps(), windowS, baseIntervalS !== undefined ? { baseIntervalS } : {});
      ctx.out.result(change, () => (change.pitr ? `point-in-time clones on: window ${change.pitr.window_s} s${change.restarted ? ' (the replica was restarted with its binlog; points start from the next snapshot)' : ''}` : 'point-in-time clones off'));
    });
  replica
    .command('status')
    .description('IO/SQL thread state, lag (seconds and transactions), apply rate, GTID position, last error')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const s = await (await ctx.api()).replicaStatus();
      ctx.out.result(s, () =>
        [
          `source   ${s.source} (${s.databases.join(', ')})`,
          ...(s.source_tls !== undefined ? [`tls      ${s.source_tls}`] : []),
          `server   ${s.server}`,
          `io       ${s.io_running ? 'running' : 'stopped'}${s.io_state ? ` (${s.io_state})` : ''}`,
          `sql      ${s.sql_running ? 'running' : 'stopped'}`,
          `lag      ${lagText(s)}`,
          `gtid     ${s.gtid}`,
          ...(s.received_gtid ? [`received ${s.received_gtid}`] : []),
          `error    ${s.last_error ?? 'none'}`,
          ...(s.pitr ? [`pitr     window ${formatDuration(s.pitr.window_s * 1000)}, oldest point ${s.pitr.oldest_point ? `${s.pitr.oldest_point.at} (GTID ${s.pitr.oldest_point.gtid})` : 'none yet (take a snapshot)'}; ${s.pitr.bases} bases (${s.pitr.base_points} base points, one per ${s.pitr.base_interval_s} s by the engine); binlog ${formatBytes(s.pitr.binlog_bytes)} in ${s.pitr.binlog_files} files`] : []),
        ].join('\n'),
      );
    });

  const snapshot = program.command('snapshot').description('consistent, prepared snapshots of the replica');
  snapshot
    .command('create')
    .description('pause the applier, snapshot, resume, prepare')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      // Ctrl-C stops the snapshot and undoes it (the applier is always resumed first).
      const s = await (await ctx.api()).snapshotCreate(ctx.signal);
      ctx.out.result(s, () => `snapshot ${s.id}: gtid ${s.gtid}, data as of ${s.data_state_at} (lag ${snapshotLagText(s.lag_seconds)}), applier paused ${s.pause_ms} ms, prepared in ${(s.prepare_ms / 1000).toFixed(1)} s`);
    });
  snapshot
    .command('list')
    .description('snapshots with their clones and disk use')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const { snapshots, pool } = await (await ctx.api()).snapshotList();
      ctx.out.result(snapshots, () =>
        `${table(
          ['id', 'kind', 'gtid', 'data_state_at', 'lag', 'clones', 'exclusive', 'note'],
          snapshots.map((s) => [s.id, snapshotKind(s), s.gtid, s.data_state_at, snapshotLagText(s.lag_seconds), s.clones.join(', ') || '-', formatBytes(s.exclusive_bytes), snapshotNote(s)]),
        )}\npool: ${formatBytes(pool.freeBytes)} free of ${formatBytes(pool.totalBytes)}`,
      );
    });
  snapshot
    .command('share')
    .description('let every user see and clone a branch (its owner or an admin); a branch is private until then')
    .argument('<id>')
    .action(async (id, _opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const s = await (await ctx.api()).snapshotShare(id);
      ctx.out.result(s, () => `branch ${s.id} of clone ${s.branch_of ?? '?'} is shared: every user can clone it with --snapshot ${s.id}`);
    });
  snapshot
    .command('mask')
    .description('mask a snapshot with the rules in force, into a new snapshot (a masked one: its unmasked base again); admins')
    .argument('<id>')
    .action(async (id, _opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const s = await (await ctx.api()).snapshotMask(id, ctx.signal);
      ctx.out.result(s, () => `snapshot ${s.id}: ${s.masked_from ?? id} masked with rules v${s.mask_version ?? '?'} (${s.mask_rows ?? 0} rows in ${((s.mask_ms ?? 0) / 1000).toFixed(1)} s)`);
    });
  snapshot
    .command('destroy')
    .description('delete a snapshot (refused while a clone needs it)')
    .argument('<id>')
    .action(async (id, _opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      await (await ctx.api()).snapshotDestroy(id);
      ctx.out.result({ destroyed: id }, () => `snapshot ${id} destroyed`);
    });

  const clone = program.command('clone').description('thin writable clones');
  clone
    .command('create')
    .description('a writable child of a snapshot with its own server, port and credentials')
    .option('--snapshot <id>', 'snapshot (default: the newest of the replica; a branch only by its id)')
    .option('--name <name>', 'clone name (default: generated)')
    .option('--admin', "give the clone's user every privilege in its server (FILE, SUPER, plugins); the container stays confined")
    .option('--user <name>', "log in as this production account (NAME@'%' on the source) with a new password; its own grants, so the application connects as usual")
    .option('--ttl <duration>', 'the engine destroys it after this long, e.g. 8h (default: the engine\'s --default-ttl)')
    .option('--fresh', 'take a snapshot now and clone it (data seconds old)')
    .option('--unmasked', 'with masking rules set: clone an unmasked snapshot (admins only)')
    .option('--at <time>', "point-in-time: the source as it was at TIME (UTC ISO-8601 such as 2026-12-07T10:14:59Z, or before now: -90s, -2h); needs `replica pitr`")
    .option('--at-gtid <gtid>', 'point-in-time: the source as it was right after this GTID')
    .option('--wait <duration>', 'with --at/--at-gtid: wait this long for the replica to apply the point (default 30s, at most 10m)')
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const c = await (await ctx.api()).cloneCreate(
        { ...pointOptions(opts), ...(opts.snapshot ? { snapshot: opts.snapshot } : {}), ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.admin ? { admin: true } : {}), ...(opts.user !== undefined ? { user: opts.user } : {}), ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}), ...(opts.fresh ? { fresh: true } : {}), ...(opts.unmasked ? { unmasked: true } : {}) },
        ctx.signal,
      );
      ctx.out.result(c, () => `${pointText(c)}${c.fresh ? `${freshText(c.fresh)}\n${describeClone(c)}` : describeClone(c)}`);
    });
  clone
    .command('list')
    .description('clones, their ports, state and disk use')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const clones = await (await ctx.api()).cloneList();
      ctx.out.result(clones, () =>
        table(
          ['name', 'owner', 'port', 'state', 'snapshot', 'exclusive', 'expires', 'dsn'],
          clones.map((c) => [c.name, c.owner, c.port, c.state, c.snapshot, formatBytes(c.exclusive_bytes), c.expires_at ?? '-', c.dsn]),
        ),
      );
    });
  clone
    .command('reset')
    .description('back to its snapshot (or another); same name, port and credentials')
    .argument('<name>')
    .option('--snapshot <id>', 'reset onto this snapshot instead')
    .option('--unmasked', 'with masking rules set: onto an unmasked snapshot (admins only)')
    .option('--at <time>', 'point-in-time: onto the source as it was at TIME (UTC ISO-8601, or before now: -90s, -2h); needs `replica pitr`')
    .option('--at-gtid <gtid>', 'point-in-time: onto the source as it was right after this GTID')
    .option('--wait <duration>', 'with --at/--at-gtid: wait this long for the replica to apply the point (default 30s, at most 10m)')
    .action(async (name, opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const c = await (await ctx.api()).cloneReset(name, { ...pointOptions(opts), ...(opts.snapshot ? { snapshot: opts.snapshot } : {}), ...(opts.unmasked ? { unmasked: true } : {}) }, ctx.signal);
      ctx.out.result(c, () => `${pointText(c)}${describeClone(c)}`);
    });
  clone
    .command('destroy')
    .description('remove a clone, its server and its volume')
    .argument('<name>')
    .action(async (name, _opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      await (await ctx.api()).cloneDestroy(name);
      ctx.out.result({ destroyed: name }, () => `clone ${name} destroyed`);
    });
  clone
    .command('snapshot')
    .description("save the clone's current state as a prepared snapshot (a branch) to clone or reset to; yours and admins' until shared (its server stops for an instant)")
    .argument('<name>')
    .option('--share', 'every user may see and clone it (later: `dolly snapshot share ID`)')
    .action(async (name, opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const s = await (await ctx.api()).cloneSnapshot(name, opts.share ? { share: true } : {}, ctx.signal);
      const who = s.shared ? 'shared' : `private to ${s.owner ?? 'local'} and admins until \`dolly snapshot share ${s.id}\``;
      ctx.out.result(s, () => `snapshot ${s.id} of clone ${name} (from ${s.parent ?? '?'}; ${who}): clone paused ${s.pause_ms} ms, prepared in ${(s.prepare_ms / 1000).toFixed(1)} s`);
    });
  clone
    .command('protect')
    .description('keep a clone from being destroyed by its expiry for a while (--for 0s lifts it)')
    .argument('<name>')
    .requiredOption('--for <duration>', 'how long from now, e.g. 7d (capped by the engine)')
    .action(async (name, opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const c = await (await ctx.api()).cloneProtect(name, { for: opts.for });
      ctx.out.result(c, () => (c.protected_until ? `clone ${name} protected until ${c.protected_until}` : `clone ${name} is no longer protected`));
    });
}

/** `--at`, `--at-gtid` and `--wait` as the API's `at`, `at_gtid` and `wait`. */
function pointOptions(opts: { at?: string; atGtid?: string; wait?: string }): { at?: string; at_gtid?: string; wait?: string } {
  return { ...(opts.at !== undefined ? { at: opts.at } : {}), ...(opts.atGtid !== undefined ? { at_gtid: opts.atGtid } : {}), ...(opts.wait !== undefined ? { wait: opts.wait } : {}) };
}

/** A point-in-time clone's first line: the point, its GTID, and the replay that made it. */
function pointText(c: CloneView): string {
  return c.point ? `point ${c.point.at} (GTID ${c.point.gtid}): ${c.point.transactions} transactions replayed on snapshot ${c.point.base} in ${(c.point.replay_ms / 1000).toFixed(1)} s\n` : '';
}
