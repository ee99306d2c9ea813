import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { assertDockerReachable, createDockerClient, type DockerClient } from '../docker/client.js';
import { InvalidArgumentError, UnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { DockerRuntime } from '../runtime/docker-runtime.js';
import type { ServerRuntime } from '../runtime/runtime.js';
import { createShell, type Shell } from '../shell.js';
import { StateStore } from '../state/store.js';
import type { State } from '../state/state.js';
import { createDriver } from '../storage/create-driver.js';
import type { StorageDriver } from '../storage/driver.js';
import type { ReplicaHost } from './replica-host.js';

export const DEFAULT_ROOT = '/var/lib/dolly';

/** Everything an engine operation needs, injected (tests build their own). */
export interface EngineDeps {
  root: string;
  store: StateStore;
  docker: DockerClient;
  runtime: ServerRuntime;
  shell: Shell;
  logger: Logger;
  now: () => Date;
  /** The storage driver of the pool described in the state. */
  driver(state: State): StorageDriver;
  /** Whether a clone port is free where clones run (default: bind it on this host). */
  portFree?: (port: number, host: string) => Promise<boolean>;
  /** Where the replica's server runs (default: a container on `docker`, see replica-host.ts). */
  replicaHost?: ReplicaHost;
  /** Told each step of a long operation as it is done (the CLI prints them; the API streams them). */
  progress?: (step: string) => void;
}

/** Reports a step of a long operation to whoever follows it (nothing when nobody does). */
export function reportStep(deps: EngineDeps, step: string): void {
  try {
    deps.progress?.(step);
  } catch {
    // A follower that went away does not stop the operation.
  }
}

/** An absolute, normalised root: it is also the label that keeps roots apart on one engine. */
export function resolveRoot(root: string | undefined): string {
  const chosen = root ?? process.env.DOLLY_ROOT ?? DEFAULT_ROOT;
  if (chosen.trim() === '' || /[\s'"`$\\]/.test(chosen)) {
    throw new InvalidArgumentError(`invalid root ${JSON.stringify(chosen)}`, { hint: 'use a plain absolute directory path such as /var/lib/dolly' });
  }
  return isAbsolute(chosen) ? resolve(chosen) : resolve(process.cwd(), chosen);
}

/**
 * Where a root's servers (prepare, clones) run when not on the local engine: that engine, and how
 * to tell whether a clone port is free there. Chosen by the composition root (the CLI reads the
 * root's Docker endpoints file), never by the engine.
 */
export interface ServersEngine {
  docker: DockerClient;
  portFree: (port: number) => Promise<boolean>;
}

/**
 * Real dependencies for a root: a Docker engine, a shell, the state store. Servers run on the
 * local engine (DOCKER_HOST or its socket) unless `servers` names another.
 */
export async function createEngineDeps(rootOption: string | undefined, logger: Logger, servers?: ServersEngine): Promise<EngineDeps> {
  const root = resolveRoot(rootOption);
  const store = new StateStore(root);
  const docker = servers?.docker ?? createDockerClient();
  if (servers) {
    await docker.ping().catch((error: unknown) => {
      throw new UnavailableError("the Docker engine this root's servers run on is not reachable", { hint: `see ${root}/docker-endpoints.json (remove it to use the local engine)`, cause: error });
    });
  } else {
    await assertDockerReachable(docker);
  }
  const shell = createShell();
  return {
    root,
    store,
    docker,
    runtime: new DockerRuntime(docker, root),
    shell,
    logger,
    now: () => new Date(),
    driver: (state) => createDriver(state.pool, { shell, logger, docker, root }),
    ...(servers ? { portFree: servers.portFree } : {}),
  };
}

/** The host directory mounted at /run/dolly in a server's container. */
export function runDir(root: string, server: string): string {
  return join(root, 'run', server);
}

/** Creates a server's run directory (0700) and writes its init file (0600: it holds a password). */
export async function prepareRunDir(root: string, server: string, initSql?: string): Promise<string> {
  const dir = runDir(root, server);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (initSql !== undefined) await writeFile(join(dir, 'init.sql'), initSql, { mode: 0o600 });
  return dir;
}

export async function removeRunDir(root: string, server: string): Promise<void> {
  await rm(runDir(root, server), { recursive: true, force: true });
}
