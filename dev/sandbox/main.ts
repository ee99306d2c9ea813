/**
 * The development sandbox's command line: `node --import tsx dev/sandbox/main.ts up|down|cut|status`
 * (what `dolly swarm sandbox …` runs). A Swarm of Docker-in-Docker nodes on this host, to try and
 * test the Swarm topology; not part of dolly's product code, which never imports it: the sandbox
 * tells dolly where its engines are through the root's Docker endpoints file.
 */
import { mkdir } from 'node:fs/promises';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { cliContext } from '../../src/cli/context.js';
import { table } from '../../src/cli/output.js';
import { reportError } from '../../src/cli/main.js';
import { assertDockerReachable, createDockerClient } from '../../src/docker/client.js';
import { resolveRoot } from '../../src/engine/context.js';
import { InvalidArgumentError, NotFoundError } from '../../src/errors.js';
import { createShell } from '../../src/shell.js';
import { cutNode } from './partition.js';
import { sandboxDown, sandboxUp } from './sandbox.js';
import { readSandboxState } from './sandbox-state.js';
import { sandboxStatus } from './sandbox-status.js';

type Globals = { root?: string; json?: boolean; logLevel?: string };

/** The host's engine (never a node's), a shell, the root. */
async function hostSetup(globals: Globals) {
  const ctx = cliContext(globals);
  const docker = createDockerClient();
  await assertDockerReachable(docker);
  return { ctx, root: resolveRoot(globals.root), docker, shell: createShell() };
}

function positive(value: string, flag: string, example: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, not ${JSON.stringify(value)}`, { hint: `e.g. ${flag} ${example}` });
  return n;
}

function clonePorts(value: string): { first: number; last: number } {
  const match = /^(\d+)-(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`--clone-ports is a range FIRST-LAST, not ${JSON.stringify(value)}`, { hint: 'e.g. --clone-ports 6000-6019' });
  return { first: Number(match[1]), last: Number(match[2]) };
}

export function buildSandboxProgram(): Command<[], Globals> {
  const program = new Command()
    .name('dolly swarm sandbox')
    .description('a local multi-node Swarm of Docker-in-Docker nodes, to try and test the topology (a development tool)')
    .option('--root <dir>', 'dolly root the sandbox belongs to (env DOLLY_ROOT, default /var/lib/dolly)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--log-level <level>', 'debug, info, warn, error or silent')
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .exitOverride();
  program
    .command('up')
    .description('start the nodes, form the Swarm, label the pool node, load the images')
    .option('--nodes <n>', 'how many nodes', '3')
    .option('--pool-path <dir>', "dolly root whose pool and run directories the pool node gets at the same paths (default: the root)")
    .option('--clone-ports <first-last>', 'ports published from the pool node on 127.0.0.1', '6000-6019')
    .action(async (opts, cmd) => {
      const { ctx, root, docker, shell } = await hostSetup(cmd.optsWithGlobals());
      const poolPath = opts.poolPath ?? root;
      await mkdir(poolPath, { recursive: true, mode: 0o700 });
      const { sandbox: s, timings } = await sandboxUp({ root, nodes: positive(opts.nodes, '--nodes', '3'), poolPath, clonePorts: clonePorts(opts.clonePorts), signal: ctx.signal }, { docker, shell, logger: ctx.logger });
      ctx.out.result({ sandbox: s, timings }, () => s.nodes.map((n) => `${n.hostname} ${n.role}${n.pool ? ' (pool)' : ''} engine unix://${n.endpoint.socket}`).join('\n'));
    });
  program
    .command('down')
    .description('remove the nodes, their volumes, the network and the endpoints file')
    .action(async (_opts, cmd) => {
      const { ctx, root, docker } = await hostSetup(cmd.optsWithGlobals());
      const result = await sandboxDown({ root }, { docker, logger: ctx.logger });
      ctx.out.result(result, () => `removed ${result.containers} container(s), ${result.volumes} volume(s), ${result.networks} network(s)`);
    });
  program
    .command('cut')
    .description('cut a node off from the other nodes for a while (a network partition), then heal it')
    .argument('<node>', 'node hostname, e.g. node-2')
    .option('--seconds <n>', 'how long', '30')
    .option('--heal', 'only heal a node left cut')
    .action(async (node, opts, cmd) => {
      const { ctx, root, docker } = await hostSetup(cmd.optsWithGlobals());
      const state = await readSandboxState(root);
      if (!state) throw new NotFoundError(`no sandbox for ${root}`, { hint: 'run `dolly swarm sandbox up` first' });
      const seconds = positive(opts.seconds, '--seconds', '30');
      if (!opts.heal) {
        await cutNode(docker, state, node, true);
        ctx.logger.info('node cut off', { node, seconds });
        const signal = ctx.signal;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, seconds * 1000);
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
        });
      }
      await cutNode(docker, state, node, false);
      ctx.out.result({ node, healed: true, seconds: opts.heal ? 0 : seconds }, () => `${node} healed`);
    });
  program
    .command('status')
    .description('the nodes, their roles, states and engines')
    .action(async (_opts, cmd) => {
      const { ctx, root, docker } = await hostSetup(cmd.optsWithGlobals());
      const status = await sandboxStatus({ root }, { docker });
      ctx.out.result(status, () => (status.exists ? table(['node', 'role', 'pool', 'state'], status.nodes.map((n) => [n.hostname, n.role, n.pool ? 'yes' : '', n.state])) : 'no sandbox'));
    });
  return program;
}

async function run(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await buildSandboxProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help') return 0;
      return reportError(new InvalidArgumentError(error.message.replace(/^error: /, '').split('\n')[0] ?? 'invalid arguments', { hint: 'see `dolly swarm sandbox --help`' }), json);
    }
    return reportError(error, json);
  }
}

process.exit(await run(process.argv));
