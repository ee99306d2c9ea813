import type { Command } from '@commander-js/extra-typings';
import { InvalidArgumentError } from '../errors.js';
import { cliContext, type GlobalOptions } from './context.js';
import { ReportedFailure } from './exit-codes.js';
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

/** `swarm plan|deploy|bootstrap|status|destroy`: the seed's Swarm from the one topology model. */
export function registerSwarmCommands(program: Root): void {
  const swarm = program.command('swarm').description("the seed's Swarm as code: source, load emulator and replica on separate nodes");
  const withTarget = <T extends Command<[], Record<string, unknown>>>(cmd: T): T =>
    cmd
      .option('--config <file>', 'topology: a Pulumi stack file or the topology alone', 'Pulumi.dev.yaml')
      .option('--docker-host <url>', 'a Swarm manager (tcp://HOST:PORT); default: the manager named in the Docker endpoints file, else the local engine') as T;

  swarm
    .command('sandbox')
    .description('a local multi-node Swarm of Docker-in-Docker nodes, to try and test the topology (a development tool: up, down, cut, status; see `dolly swarm sandbox --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'the sandbox command and its options')
    .action(async (args, _opts, cmd) => {
      const globals = cmd.optsWithGlobals() as GlobalOptions;
      const passed = [...(globals.root !== undefined ? ['--root', globals.root] : []), ...(globals.json ? ['--json'] : []), ...(globals.logLevel !== undefined ? ['--log-level', globals.logLevel] : []), ...args];
      const { runSandboxTool } = await import('../demo/sandbox-tool.js');
      const run = await runSandboxTool(passed.length === 0 ? ['--help'] : passed, { signal: cliContext(globals).signal });
      // The tool printed its result or its one-line error; its exit code is the command's.
      if (run.code !== 0) throw new ReportedFailure(run.code);
    });

  withTarget(swarm.command('plan').description('what a deploy would change (checks nodes, ports and images first)')).action(async (opts, cmd) => {
    const { ctx, topology, deps } = await swarmSetup(opts as { config: string; dockerHost?: string }, cmd.optsWithGlobals());
    const changes = await (await import('../swarm/deploy/swarm-deploy.js')).swarmPlan(topology, deps);
    ctx.out.result(changes, () => table(['action', 'kind', 'name'], changes.map((c) => [c.action, c.kind, c.name])));
  });
  withTarget(swarm.command('deploy').description('create or update network, secrets and services, then bootstrap replication; running it twice changes nothing'))
    .option('--no-bootstrap', 'do not copy the source into the replica and start replication')
    .option('--method <method>', 'how the bootstrap copies: dump (replica init\'s dump through the replica\'s task) or backup (mariadb-backup in the source\'s task, restored into the pool)', 'dump')
    .action(async (options, cmd) => {
      const opts = options as unknown as { config: string; dockerHost?: string; bootstrap: boolean; method: string };
      const method = bootstrapMethod(opts.method);
      const { ctx, topology, deps } = await swarmSetup(opts, cmd.optsWithGlobals());
      const { swarmDeploy, waitForServices } = await import('../swarm/deploy/swarm-deploy.js');
      const changes = await swarmDeploy(topology, deps);
      const services = await waitForServices(topology, deps, 300_000);
      const bootstrap = opts.bootstrap ? await (await import('../swarm/deploy/bootstrap.js')).swarmBootstrap(topology, deps, { method, signal: ctx.signal }) : null;
      ctx.out.result({ changes, services, bootstrap }, () =>
        [
          `${changes.filter((c) => c.action !== 'keep').length} change(s); ${services.map((s) => `${s.name} on ${s.node}`).join(', ')}`,
          ...(bootstrap ? [bootstrapLine(bootstrap)] : []),
        ].join('\n'),
      );
    });
  withTarget(swarm.command('bootstrap').description('replica init on the Swarm: copy the source into the replica service across nodes and start GTID replication (once; a killed one is undone by the next dolly command)'))
    .option('--method <method>', 'dump (replica init\'s dump through the replica\'s task) or backup (mariadb-backup in the source\'s task, restored into the pool)', 'dump')
    .action(async (options, cmd) => {
    const opts = options as unknown as { config: string; dockerHost?: string; method: string };
    const method = bootstrapMethod(opts.method);
    const { ctx, topology, deps } = await swarmSetup(opts, cmd.optsWithGlobals());
    const result = await (await import('../swarm/deploy/bootstrap.js')).swarmBootstrap(topology, deps, { method, signal: ctx.signal });
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
