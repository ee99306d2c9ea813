import { createLogger, type LogLevel, type Logger } from '../log.js';
import type { DollyApi } from '../api/api.js';
import type { EngineDeps } from '../engine/context.js';
import { InterruptedError } from '../errors.js';
import { EXIT_CODES } from './exit-codes.js';
import { createOutput, type Output } from './output.js';

/** Global options every command sees. */
export type GlobalOptions = {
  root?: string;
  json?: boolean;
  logLevel?: string;
};

export interface CliContext {
  logger: Logger;
  out: Output;
  /** The local engine's dependencies (commands that only run on the host). */
  deps(): Promise<EngineDeps>;
  /** What the user asks for: a remote engine's API (DOLLY_URL, `dolly login`), else this host's. */
  api(): Promise<DollyApi>;
  /**
   * Aborted at the first Ctrl-C / SIGTERM, so the command stops and undoes what it made; a second
   * one exits at once. Asking for it is what installs the handlers (commands that make things do).
   */
  readonly signal: AbortSignal;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export function cliContext(options: GlobalOptions): CliContext {
  const level = LEVELS.find((l) => l === options.logLevel) ?? (options.json ? 'warn' : 'info');
  const logger = createLogger(level, options.json === true);
  let deps: Promise<EngineDeps> | undefined;
  let abort: AbortController | undefined;
  return {
    logger,
    out: createOutput(options.json === true),
    deps: () => (deps ??= localEngineDeps(options.root, logger)),
    api: async () => {
      const target = await (await import('./remote-config.js')).remoteTarget(options.root === undefined ? {} : { root: options.root });
      // Each step of a long operation, as it is done: shown to people, in the debug log otherwise.
      const progress = (step: string): void => (process.stderr.isTTY ? logger.info(step) : logger.debug(step));
      if (target) return (await import('../api/remote.js')).remoteApi(target, fetch, { onProgress: progress });
      return (await import('../api/local.js')).localApi({ ...(await (deps ??= localEngineDeps(options.root, logger))), progress });
    },
    get signal() {
      abort ??= interruptible(logger);
      return abort.signal;
    },
  };
}

/**
 * The composition root's choice of engine and replica host: where the root's replica is a Swarm
 * service, its servers run on the engine the root's Docker endpoints file names (the pool node's),
 * and the replica is started, stopped and watched as that service through the Swarm's manager
 * (the file's, else the local engine); otherwise, and with no such file, a container on the local
 * engine — a root whose replica dolly runs itself keeps it where it is.
 */
export async function localEngineDeps(rootOption: string | undefined, logger: Logger): Promise<EngineDeps> {
  const { createEngineDeps, resolveRoot } = await import('../engine/context.js');
  const { serversEndpoint } = await import('../docker/endpoints.js');
  const { StateStore } = await import('../state/store.js');
  const root = resolveRoot(rootOption);
  const store = new StateStore(root);
  let swarm: { service: string; pool_node: string } | undefined;
  try {
    swarm = store.read()?.swarm;
  } finally {
    store.close();
  }
  if (swarm === undefined) return createEngineDeps(root, logger);
  const deps = await createEngineDeps(root, logger, await serversEndpoint(root));
  const { swarmTarget } = await import('../swarm/deploy/swarm-target.js');
  const { swarmReplicaHost } = await import('../swarm/deploy/swarm-replica-host.js');
  const target = await swarmTarget(root, undefined);
  return { ...deps, replicaHost: swarmReplicaHost({ service: swarm.service, poolNode: swarm.pool_node }, target) };
}

function interruptible(logger: Logger): AbortController {
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(EXIT_CODES.interrupted);
    logger.warn('interrupted: stopping and removing what this command made (press Ctrl-C again to quit at once)');
    abort.abort(new InterruptedError('interrupted', { hint: 'nothing half-made is left; run the command again' }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return abort;
}
