import type { Command } from '@commander-js/extra-typings';
import type { DriverName } from '../storage/driver.js';
import { InvalidArgumentError } from '../errors.js';
import { cliContext, type GlobalOptions } from './context.js';
import { formatBytes } from '../format.js';

type Root = Command<[], GlobalOptions>;

/** `init`, `up`, `teardown`, `images build`, `status`. */
export function registerPoolCommands(program: Root): void {
  program
    .command('init')
    .description('create the storage pool and state of a root')
    .option('--driver <driver>', 'btrfs (default), copy or commit', 'btrfs')
    .option('--size <size>', 'btrfs: size of the pool image file (default 20G)')
    .option('--device <path>', 'btrfs: a block device to use instead of an image file')
    .option('--directory <path>', 'btrfs: an already-mounted btrfs directory; copy: where volumes go')
    .option('--image <image>', "server image (dolly/mariadb:11.8, mariadb:10.6, mysql:8.4, ...); default: `replica init` takes the source's flavor and version (building dolly's image of it)")
    .option('--ports <range>', 'port range for clones', '6000-6099')
    .option('--bind <address>', 'address clones listen on', '127.0.0.1')
    .option('--buffer-pool <size>', 'InnoDB buffer pool of each clone', '64M')
    .option('--clone-quota <size>', 'what one clone alone may write, e.g. 5G (0: no limit; default a fifth of the pool; btrfs enforces it)')
    .option('--reserve <size>', 'free space kept for the replica: no clone is made below it (default a tenth of the pool, at least 256M)')
    .option('--clone-memory <size>', "a clone container's memory limit, its /tmp tmpfs included (default: the buffer pool plus 448M, 512M)")
    .option('--clone-cpus <cores>', 'CPU cores one clone may use at most (default 1; 0: no cap)')
    .option('--clone-connections <n>', "a clone server's max_connections (default 50)")
    .option('--clone-network <mode>', "isolated (default: each clone in its own network namespace) or host (faster start; only where every clone's user is trusted)", 'isolated')
    .option('--clone-tls <on|off>', "on (default): clones serve TLS with a certificate of this root's CA; off: plain connections only", 'on')
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const { assertPrivileges, initPool } = await import('../engine/pool-init.js');
      assertPrivileges(opts.driver as DriverName, opts.directory);
      const deps = await ctx.deps();
      const result = await initPool(
        {
          driver: opts.driver as DriverName,
          ...(opts.size !== undefined ? { size: opts.size } : {}),
          ports: opts.ports,
          cloneNetwork: opts.cloneNetwork,
          cloneTls: opts.cloneTls,
          ...(opts.cloneQuota !== undefined ? { cloneQuota: opts.cloneQuota } : {}),
          ...(opts.reserve !== undefined ? { reserve: opts.reserve } : {}),
          ...(opts.cloneMemory !== undefined ? { cloneMemory: opts.cloneMemory } : {}),
          ...(opts.cloneCpus !== undefined ? { cloneCpus: opts.cloneCpus } : {}),
          ...(opts.cloneConnections !== undefined ? { cloneConnections: opts.cloneConnections } : {}),
          bindAddress: opts.bind,
          bufferPool: opts.bufferPool,
          ...(opts.device ? { device: opts.device } : {}),
          ...(opts.directory ? { directory: opts.directory } : {}),
          ...(opts.image ? { image: opts.image } : {}),
        },
        deps,
      );
      ctx.out.result(result, () => `pool ready: ${result.driver} at ${result.root}`);
    });

  program
    .command('up')
    .description('mount the pool and start the replica and every clone again (after a reboot or crash)')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const result = await (await import('../engine/lifecycle.js')).up(await ctx.deps());
      ctx.out.result(result, () =>
        [
          `started: ${result.started.join(', ') || 'nothing'}; already running: ${result.already_running.join(', ') || 'nothing'}`,
          ...result.recovered.map((line) => `recovered: ${line}`),
          ...result.removed_leftovers.map((line) => `removed leftover ${line}`),
          ...result.failed.map((line) => `could not ${line} (the next command tries again)`),
        ].join('\n'),
      );
    });

  program
    .command('teardown')
    .description('remove every container of this root and unmount the pool (--purge: delete pool and state too)')
    .option('--purge', 'also delete every volume, snapshot, the pool and the state')
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const result = await (await import('../engine/lifecycle.js')).teardown({ purge: opts.purge === true }, await ctx.deps());
      ctx.out.result(result, () => `removed ${result.removed.length} container(s)${result.purged ? '; pool and state deleted' : '; pool unmounted (dolly up brings it back)'}`);
    });

  program
    .command('pool')
    .description('the storage pool')
    .command('grow')
    .description('grow the btrfs pool while everything runs (replication paused for space resumes by itself)')
    .option('--size <size>', 'new size of the pool image file, larger than now (e.g. 40G)')
    .option('--add-device <path>', 'a blank block device to add to the pool')
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const { growPool } = await import('../engine/pool-space.js');
      const result = await growPool({ ...(opts.size !== undefined ? { size: opts.size } : {}), ...(opts.addDevice !== undefined ? { addDevice: opts.addDevice } : {}) }, await ctx.deps());
      ctx.out.result(result, () => `pool grown from ${formatBytes(result.from_bytes)} to ${formatBytes(result.to_bytes)}, ${formatBytes(result.free_bytes)} free${result.resumed ? '; replication resumed' : ''}`);
    });

  const images = program.command('images').description('server images');
  images
    .command('build')
    .description('build server images locally from Debian packages (skipped when present): dolly/mariadb:10.11 (bookworm), dolly/mariadb:11.8 (trixie), dolly/mysql:9.7 (sid)')
    .option('--engine <name>', 'mariadb-10.11 (default), mariadb-11.8, mysql-9.7, or all')
    .option('--tag <tag>', 'image tag (default: the engine\'s)')
    .option('--mirror <url>', 'Debian mirror (default: the host apt source)')
    .option('--force', 'rebuild even when present')
    .option('--loadgen', "also build the Swarm load emulator's image (dolly/loadgen)")
    .action(async (opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const deps = await ctx.deps();
      const build = { docker: deps.docker, shell: deps.shell, logger: ctx.logger };
      const images = await import('../docker/image-build.js');
      const wanted = opts.engine === 'all' ? [...images.ENGINES] : [opts.engine === undefined ? images.ENGINES[0] : images.findEngine(opts.engine)];
      if (wanted.some((e) => e === undefined)) {
        throw new InvalidArgumentError(`unknown engine ${JSON.stringify(opts.engine)}`, { hint: `choose one of ${images.ENGINES.map((e) => e.name).join(', ')}, or all` });
      }
      if (opts.tag !== undefined && wanted.length > 1) throw new InvalidArgumentError('--tag names one image', { hint: 'build one --engine at a time with --tag' });
      const results: { tag: string; built: boolean; seconds: number }[] = [];
      for (const engine of wanted) {
        if (engine) results.push(await images.buildImage({ engine, ...(opts.tag !== undefined ? { tag: opts.tag } : {}), force: opts.force === true, ...(opts.mirror ? { mirror: opts.mirror } : {}) }, build));
      }
      if (opts.loadgen) results.push(await (await import('../swarm/loadgen-image.js')).buildLoadgenImage({ force: opts.force === true }, build));
      ctx.out.result(results, () => results.map((r) => (r.built ? `built ${r.tag} in ${r.seconds.toFixed(0)} s` : `${r.tag} is present`)).join('\n'));
    });

  program
    .command('status')
    .description('pool space, replica, snapshots and clones at a glance')
    .action(async (_opts, cmd) => {
      const ctx = cliContext(cmd.optsWithGlobals());
      const result = await (await ctx.api()).status();
      const quota = result.pool.clone_quota_bytes > 0 ? `${formatBytes(result.pool.clone_quota_bytes)} per clone` : 'no limit per clone';
      ctx.out.result(result, () =>
        [
          `root      ${result.root} (${result.driver})`,
          `pool      ${formatBytes(result.pool.free_bytes)} free of ${formatBytes(result.pool.total_bytes)}; ${formatBytes(result.pool.reserve_bytes)} kept for the replica; ${quota}`,
          `replica   ${result.replica ?? 'none'}`,
          `snapshots ${result.snapshots}`,
          `clones    ${result.clones}`,
          `jobs      ${result.jobs.map((j) => `${j.kind} ${j.target} (pid ${j.pid})`).join(', ') || 'none'}`,
          `engine    ${result.engine ? `${result.engine.url} (pid ${result.engine.pid})` : 'not running'}`,
          ...(result.pitr ? [`pitr      window ${result.pitr.window_s} s, oldest point ${result.pitr.oldest_point?.at ?? 'none yet'}, ${result.pitr.bases} bases (${result.pitr.base_points} base points), binlog ${formatBytes(result.pitr.binlog_bytes)}`] : []),
        ].join('\n'),
      );
    });
}
