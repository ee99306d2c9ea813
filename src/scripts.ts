/**
 * What the zx scripts (`scripts/*.mjs`) call: the same library functions as `dolly swarm
 * bootstrap`, `dolly snapshot create` and `dolly clone create`, behind one-line errors and the
 * CLI's exit codes. The scripts import it from `dist/` (built by `make build`).
 */
import { reportError } from './cli/main.js';
import { createClone, type CloneView } from './engine/clone-create.js';
import { localEngineDeps } from './cli/context.js';
import { resolveRoot } from './engine/context.js';
import { createSnapshot } from './engine/snapshot-create.js';
import { createLogger } from './log.js';
import type { Snapshot } from './state/state.js';
import { swarmBootstrap, type BootstrapResult } from './swarm/deploy/bootstrap.js';
import { readTopologyFile, swarmTarget } from './swarm/deploy/swarm-target.js';
import type { Topology } from './swarm/model.js';

/** The options the scripts take (zx's `argv`, parsed by minimist). */
export interface ScriptArgs {
  /** Topology: a Pulumi stack file or the topology alone (default Pulumi.dev.yaml). */
  config?: string;
  /** dolly's root; default DOLLY_ROOT, else the topology's pool root. */
  root?: string;
  'docker-host'?: string;
  json?: boolean;
  clone?: boolean;
}

interface ScriptContext {
  topology: Topology;
  root: string;
  args: ScriptArgs;
  logger: ReturnType<typeof createLogger>;
}

/** `npx zx scripts/bootstrap.mjs`: `swarmBootstrap` on the topology's Swarm. */
export async function bootstrapScript(ctx: ScriptContext): Promise<BootstrapResult> {
  const target = await swarmTarget(ctx.root, ctx.args['docker-host']);
  return swarmBootstrap(ctx.topology, { docker: target.docker, engines: target.engines, logger: ctx.logger });
}

/** `npx zx scripts/snapshot.mjs [--clone]`: a snapshot of the Swarm replica on its node, and a clone of it. */
export async function snapshotScript(ctx: ScriptContext): Promise<{ snapshot: Snapshot; clone: CloneView | null }> {
  const deps = await localEngineDeps(ctx.root, ctx.logger);
  const snapshot = await createSnapshot(deps);
  if (!ctx.args.clone) return { snapshot, clone: null };
  return { snapshot, clone: await createClone({ snapshot: snapshot.id }, deps) };
}

/**
 * Runs a script's body with the topology and root resolved, prints its result (JSON with --json,
 * else `render`), and exits with the CLI's exit code: one line and a hint on failure.
 */
export async function runScript<T>(args: ScriptArgs, body: (ctx: ScriptContext) => Promise<T>, render: (result: T) => string): Promise<never> {
  const json = args.json === true;
  const logger = createLogger(json ? 'warn' : 'info', false);
  try {
    const topology = await readTopologyFile(args.config ?? 'Pulumi.dev.yaml');
    const root = resolveRoot(args.root ?? process.env.DOLLY_ROOT ?? topology.pool.root);
    const result = await body({ topology, root, args, logger });
    process.stdout.write(`${json ? JSON.stringify(result, null, 2) : render(result)}\n`);
    process.exit(0);
  } catch (error) {
    process.exit(reportError(error, json));
  }
}
