import type { Command } from '@commander-js/extra-typings';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { cliContext, type GlobalOptions } from './context.js';
import { table } from './output.js';

type Root = Command<[], GlobalOptions>;

/** What every `dolly swarm` command needs: the topology and the Swarm to apply it to. */
async function swarmSetup(opts: { config: string; dockerHost?: string }, globals: GlobalOptions) {
  const ctx = cliContext(globals);
  const { resolveRoot } = await import('../engine/context.js');
  const { readTopologyFile, swarmTarget } = await import('../swarm/deploy/swarm-target.js');
  const topology = await readTopologyFile(opts.config);
  const target = await swarmTarget(resolveRoot(globals.root), opts.dockerHost);
  ctx.logger.debug('swarm target', { target: target.description });
  return { ctx, topology, deps: { docker: target.docker, engines: target.engines, logger: ctx.logger } };
}

/** What the sandbox commands need: the host's engine (never the pool node's), a shell, the root. */
async function hostSetup(globals: GlobalOptions) {
  const ctx = cliContext(globals);
  const { resolveRoot } = await import('../engine/context.js');
  const { assertDockerReachable, createDockerClient } = await import('../docker/client.js');
  const { createShell } = await import('../shell.js');
  const docker = createDockerClient();
  await assertDockerReachable(docker);
  return { ctx, deps: { root: resolveRoot(globals.root), docker, shell: createShell() } };
}

/** `swarm plan|deploy|bootstrap|status|destroy`: the seed's Swarm from the one topology model. */
export function registerSwarmCommands(program: Root): void {
  const swarm = program.command('swarm').description("the seed's Swarm as code: source, load emulator and replica on separate nodes");
  const withTarget = <T extends Command<[], Record<string, unknown>>>(cmd: T): T =>
    cmd
      .option('--config <file>', 'topology: a Pulumi stack file or the topology alone', 'Pulumi.dev.yaml')
      .option('--docker-host <url>', 'a Swarm manager (tcp://HOST:PORT); default: the sandbox while it runs, else the local engine') as T;

  const sandbox = swarm.command('sandbox').description('a local multi-node Swarm of Docker-in-Docker nodes, to try and test the topology');
  sandbox
    .command('up')
    .description('start the nodes, form the Swarm, label the pool node, load the images')
    .option('--nodes <n>', 'how many nodes', '3')
    .option('--pool-path <dir>', "host directory shared with the pool node at the same path (default: the root)")
    .action(async (opts, cmd) => {
      const { ctx, deps } = await hostSetup(cmd.optsWithGlobals());
      const { mkdir } = await import('node:fs/promises');
      const poolPath = opts.poolPath ?? deps.root;
      await mkdir(poolPath, { recursive: true, mode: 0o700 });
      const { sandboxUp } = await import('../swarm/sandbox/sandbox.js');
      const { sandbox: s, timings } = await sandboxUp({ root: deps.root, nodes: Number(opts.nodes), poolPath, signal: ctx.signal }, { docker: deps.docker, shell: deps.shell, logger: ctx.logger });
      ctx.out.result({ sandbox: s, timings }, () => s.nodes.map((n) => `${n.hostname} ${n.role}${n.pool ? ' (pool)' : ''} engine tcp://127.0.0.1:${n.endpoint.port}`).join('\n'));
    });
  sandbox
    .command('down')
    .description('remove the nodes, their volumes and the network')
    .action(async (_opts, cmd) => {
      const { ctx, deps } = await hostSetup(cmd.optsWithGlobals());
      const result = await (await import('../swarm/sandbox/sandbox.js')).sandboxDown({ root: deps.root }, { docker: deps.docker, logger: ctx.logger });
      ctx.out.result(result, () => `removed ${result.containers} container(s), ${result.volumes} volume(s), ${result.networks} network(s)`);
    });
  sandbox
    .command('cut')
    .description('cut a node off from the other nodes for a while (a network partition), then heal it')
    .argument('<node>', 'node hostname, e.g. node-2')
    .option('--seconds <n>', 'how long', '30')
    .option('--heal', 'only heal a node left cut')
    .action(async (node, opts, cmd) => {
      const { ctx, deps } = await hostSetup(cmd.optsWithGlobals());
      const { readSandboxState } = await import('../swarm/sandbox/sandbox-state.js');
      const { cutNode } = await import('../swarm/sandbox/partition.js');
      const state = await readSandboxState(deps.root);
      if (!state) throw new NotFoundError(`no sandbox for ${deps.root}`, { hint: 'run `dolly swarm sandbox up` first' });
      const seconds = Number(opts.seconds);
      if (!Number.isFinite(seconds) || seconds <= 0) {
        throw new InvalidArgumentError(`--seconds must be a positive number, not ${JSON.stringify(opts.seconds)}`, { hint: 'e.g. --seconds 30' });
      }
      if (!opts.heal) {
        await cutNode(deps.docker, state, node, true);
        ctx.logger.info('node cut off', { node, seconds });
        const signal = ctx.signal;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, seconds * 1000);
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
        });
      }
      await cutNode(deps.docker, state, node, false);
      ctx.out.result({ node, healed: true, seconds: opts.heal ? 0 : seconds }, () => `${node} healed`);
    });
  sandbox
    .command('status')
    .description('the nodes, their roles, states and engines')
    .action(async (_opts, cmd) => {
      const { ctx, deps } = await hostSetup(cmd.optsWithGlobals());
      const status = await (await import('../swarm/sandbox/sandbox-status.js')).sandboxStatus({ root: deps.root }, { docker: deps.docker });
      ctx.out.result(status, () => (status.exists ? table(['node', 'role', 'pool', 'state'], status.nodes.map((n) => [n.hostname, n.role, n.pool ? 'yes' : '', n.state])) : 'no sandbox'));
    });

  withTarget(swarm.command('plan').description('what a deploy would change (checks nodes, ports and images first)')).action(async (opts, cmd) => {
    const { ctx, topology, deps } = await swarmSetup(opts as { config: string; dockerHost?: string }, cmd.optsWithGlobals());
    const changes = await (await import('../swarm/deploy/swarm-deploy.js')).swarmPlan(topology, deps);
    ctx.out.result(changes, () => table(['action', 'kind', 'name'], changes.map((c) => [c.action, c.kind, c.name])));
  });
  withTarget(swarm.command('deploy').description('create or update network, secrets and services, then bootstrap replication; running it twice changes nothing'))
    .option('--no-bootstrap', 'do not copy the source into the replica and start replication')
    .option('--method <method>', 'how the bootstrap copies: dump (mariadb-dump in the replica task) or backup (mariadb-backup in the source task, streamed over the network)', 'dump')
    .action(async (options, cmd) => {
      const opts = options as unknown as { config: string; dockerHost?: string; bootstrap: boolean; method: string };
      const method = bootstrapMethod(opts.method);
      const { ctx, topology, deps } = await swarmSetup(opts, cmd.optsWithGlobals());
      const { swarmDeploy, waitForServices } = await import('../swarm/deploy/swarm-deploy.js');
      const changes = await swarmDeploy(topology, deps);
      const services = await waitForServices(topology, deps, 300_000);
      const bootstrap = opts.bootstrap ? await (await import('../swarm/deploy/bootstrap.js')).swarmBootstrap(topology, deps, { method }) : null;
      ctx.out.result({ changes, services, bootstrap }, () =>
        [
          `${changes.filter((c) => c.action !== 'keep').length} change(s); ${services.map((s) => `${s.name} on ${s.node}`).join(', ')}`,
          ...(bootstrap ? [bootstrapLine(bootstrap)] : []),
        ].join('\n'),
      );
    });
  withTarget(swarm.command('bootstrap').description('copy the source into the replica across nodes and start GTID replication (once)'))
    .option('--method <method>', 'dump (mariadb-dump in the replica task) or backup (mariadb-backup in the source task, streamed over the network to the pool node)', 'dump')
    .action(async (options, cmd) => {
    const opts = options as unknown as { config: string; dockerHost?: string; method: string };
    const method = bootstrapMethod(opts.method);
    const { ctx, topology, deps } = await swarmSetup(opts, cmd.optsWithGlobals());
    const result = await (await import('../swarm/deploy/bootstrap.js')).swarmBootstrap(topology, deps, { method });
    ctx.out.result(result, () => bootstrapLine(result));
  });
  withTarget(swarm.command('status').description('services, their nodes and states, and the replica\'s replication')).action(async (opts, cmd) => {
    const { ctx, topology, deps } = await swarmSetup(opts as { config: string; dockerHost?: string }, cmd.optsWithGlobals());
    const services = await (await import('../swarm/deploy/swarm-deploy.js')).swarmStatus(topology, deps);
    const status = await (await import('../swarm/deploy/bootstrap.js')).swarmReplicaStatus(topology);
    const replica = status ? { io_running: status.io_running, sql_running: status.sql_running, lag_seconds: status.lag_seconds, gtid: status.gtid, last_error: status.last_error } : null;
    ctx.out.result({ services, replica }, () =>
      [
        table(['service', 'node', 'state', 'replicas'], services.map((s) => [s.name, s.node ?? '-', s.state, s.replicas])),
        replica ? `replica: io ${replica.io_running ? 'running' : 'stopped'}, sql ${replica.sql_running ? 'running' : 'stopped'}, lag ${replica.lag_seconds ?? '-'} s, gtid ${replica.gtid}${replica.last_error ? `, error: ${replica.last_error}` : ''}` : 'replica: not reachable from here',
      ].join('\n'),
    );
  });
  withTarget(swarm.command('destroy').description("remove the stack's services, secrets, network and node labels, and the replica's data on this machine (the source's volume stays)")).action(async (opts, cmd) => {
    const { ctx, topology, deps } = await swarmSetup(opts as { config: string; dockerHost?: string }, cmd.optsWithGlobals());
    const result = await (await import('../swarm/deploy/swarm-deploy.js')).swarmDestroy(topology, deps);
    ctx.out.result(result, () => [`removed ${result.removed.length}: ${result.removed.join(', ') || 'nothing'}`, ...result.kept.map((k) => `kept ${k}`)].join('\n'));
  });
}

/** `--method` of `swarm deploy|bootstrap`, checked before anything is asked of the Swarm. */
export function bootstrapMethod(value: string): 'dump' | 'backup' {
  if (value === 'dump' || value === 'backup') return value;
  throw new InvalidArgumentError(`--method must be dump or backup, not ${JSON.stringify(value)}`, { hint: 'backup needs a MariaDB source of the replica image\'s major.minor' });
}

function bootstrapLine(result: { already: boolean; method: string; databases: string[]; gtid: string; seconds: number }): string {
  return result.already ? `replication already configured (gtid ${result.gtid})` : `copied ${result.databases.join(', ') || 'no database'}${result.method === 'backup' ? ' (mariadb-backup)' : ''} and started replication at ${result.gtid || '(empty)'} in ${result.seconds} s`;
}
