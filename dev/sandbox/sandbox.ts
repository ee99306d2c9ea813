import { mkdir, rm, stat } from 'node:fs/promises';
import { assertDockerReachable, type DockerClient } from '../../src/docker/client.js';
import { DEFAULT_IMAGE, imageExists } from '../../src/docker/image-build.js';
import { AlreadyExistsError, InterruptedError, NotFoundError, messageOf } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Shell } from '../../src/shell.js';
import { DEFAULT_LOADGEN_IMAGE } from '../../src/swarm/topology-config.js';
import { loadImages, type ImageLoadReport } from './image-load.js';
import { buildNodeImage } from './node-image.js';
import { startNodeContainer, type MadeObjects, type StartedNodeContainer } from './node-container.js';
import { connectEngine, dockerHostOf, waitForEngine, type ConnectEngine } from './node-engine.js';
import { removeSandboxObjects, findSandboxObjects } from './sandbox-objects.js';
import { resolveSandboxOptions, type ResolvedSandboxOptions, type SandboxUpOptions } from './sandbox-options.js';
import { nodeHostname, sandboxEnginesDir, sandboxLabels, sandboxNetworkName } from './sandbox-names.js';
import { removeSandboxState, writeSandboxState, type SandboxState } from './sandbox-state.js';
import { formSwarm } from './swarm-form.js';
import { secondsSince } from '../../src/elapsed.js';
import { removeDockerEndpoints, writeDockerEndpoints } from '../../src/docker/endpoints.js';

/** What the sandbox commands receive: the host engine, a shell (debootstrap), a logger. */
export interface SandboxDeps {
  docker: DockerClient;
  shell: Shell;
  logger: Logger;
  /** How to reach a node's engine from the host (default: dockerode on 127.0.0.1:port). */
  connect?: ConnectEngine;
}

/** Seconds each step of `sandbox up` took. */
export interface SandboxUpTimings {
  readonly nodeImageBuild: number;
  readonly nodes: number;
  readonly swarm: number;
  readonly imageLoad: ImageLoadReport;
  readonly total: number;
}

/** A running sandbox: what `<root>/sandbox.json` records, and how long it took to make. */
export interface SandboxUpResult {
  readonly sandbox: SandboxState;
  readonly timings: SandboxUpTimings;
}

/** What `sandbox down` removed. */
export interface SandboxDownResult {
  readonly containers: number;
  readonly volumes: number;
  readonly networks: number;
  readonly seconds: number;
}

/**
 * `dolly swarm sandbox up`: a Docker Swarm of `nodes` Docker-in-Docker containers on this engine,
 * on their own bridge network. node-1 is the manager, the others workers; the pool node carries
 * the Swarm label `dolly.pool=true`, the pool path and the clone ports; the images dolly needs are
 * loaded into every node. Refuses bad options (InvalidArgumentError), missing images or paths
 * (NotFoundError) and a second sandbox for the root (AlreadyExistsError) before making anything;
 * if a later step fails, everything made so far is removed. The node image is built when missing.
 */
export async function sandboxUp(options: SandboxUpOptions, deps: SandboxDeps): Promise<SandboxUpResult> {
  const opts = resolveSandboxOptions(options);
  const started = Date.now();
  await assertDockerReachable(deps.docker);
  await checkPoolPath(opts.poolPath);
  const existing = await findSandboxObjects(deps.docker, opts.root);
  if (existing.containers.length + existing.volumes.length + existing.networks.length > 0) {
    throw new AlreadyExistsError(`a sandbox already exists for ${opts.root}`, { hint: 'run `dolly swarm sandbox down` first' });
  }
  const images = await resolveImages(deps.docker, opts.images);
  const built = await buildNodeImage({ tag: opts.nodeImage }, deps);
  await mkdir(opts.root, { recursive: true });

  const made: MadeObjects = { containers: [], volumes: [], networks: [] };
  try {
    return await build(opts, images, deps, made, started, built.seconds, options.signal);
  } catch (error) {
    deps.logger.warn('sandbox up failed; removing what it made', { reason: messageOf(error) });
    await removeSandboxObjects(deps.docker, made).catch((undoError: unknown) => deps.logger.error('undo failed', { reason: messageOf(undoError) }));
    await removeSandboxState(opts.root).catch(() => undefined);
    await removeDockerEndpoints(opts.root).catch(() => undefined);
    await rm(sandboxEnginesDir(opts.root), { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

async function build(
  opts: ResolvedSandboxOptions,
  images: string[],
  deps: SandboxDeps,
  made: MadeObjects,
  started: number,
  nodeImageBuild: number,
  signal: AbortSignal | undefined,
): Promise<SandboxUpResult> {
  const connect = deps.connect ?? connectEngine;
  const wait = { timeoutMs: opts.timeoutMs, ...(signal ? { signal } : {}) };
  const network = sandboxNetworkName(opts.root);
  await deps.docker.createNetwork({ Name: network, Driver: 'bridge', CheckDuplicate: true, Labels: sandboxLabels(opts.root, 'sandbox', network) });
  made.networks.push(network);

  const nodesStarted = Date.now();
  deps.logger.info('starting sandbox nodes', { nodes: opts.nodes, network });
  const indexes = Array.from({ length: opts.nodes }, (_, i) => i + 1);
  const nodes = await settleAll(
    indexes.map(async (index): Promise<StartedNodeContainer> => {
      const pool = index === opts.poolNode;
      const spec = { root: opts.root, index, image: opts.nodeImage, network, storageDriver: opts.storageDriver, pool, poolPath: opts.poolPath, clonePorts: opts.clonePorts };
      const node = await startNodeContainer(deps.docker, spec, made);
      await waitForEngine(connect(node.endpoint), node.hostname, wait);
      return node;
    }),
  );
  const nodesSeconds = secondsSince(nodesStarted);
  checkAborted(signal);

  const swarmStarted = Date.now();
  const engines = nodes.map((node) => ({ ...node, engine: connect(node.endpoint) }));
  const poolHostname = nodeHostname(opts.poolNode);
  const listed = await formSwarm(engines, poolHostname, wait);
  const swarmSeconds = secondsSince(swarmStarted);
  deps.logger.info('Swarm formed', { nodes: listed.length, seconds: swarmSeconds });
  checkAborted(signal);

  deps.logger.info('loading images into the nodes', { images });
  const imageLoad = await loadImages(deps.docker, images, engines);
  deps.logger.info('images loaded', { seconds: imageLoad.totalSeconds, perNode: imageLoad.nodes });
  checkAborted(signal);

  const sandbox: SandboxState = {
    version: 1,
    root: opts.root,
    network,
    nodes: nodes.map((node, i) => ({
      container: node.container,
      hostname: node.hostname,
      role: i === 0 ? 'manager' : 'worker',
      pool: node.hostname === poolHostname,
      address: node.address,
      endpoint: node.endpoint,
      swarmNodeId: listed.find((n) => n.hostname === node.hostname)?.id ?? '',
    })),
    ...(opts.poolPath === undefined ? {} : { poolPath: opts.poolPath }),
    clonePorts: { ...opts.clonePorts },
    images,
    storageDriver: opts.storageDriver,
    createdAt: new Date().toISOString(),
  };
  await writeSandboxState(sandbox);
  // What dolly reads to find the engines: its servers on the pool node, `dolly swarm` on the manager.
  const pool = sandbox.nodes.find((n) => n.pool);
  const manager = sandbox.nodes.find((n) => n.role === 'manager');
  await writeDockerEndpoints(opts.root, {
    ...(pool ? { servers: dockerHostOf(pool.endpoint) } : {}),
    ...(manager ? { manager: dockerHostOf(manager.endpoint) } : {}),
    nodes: Object.fromEntries(sandbox.nodes.map((n) => [n.hostname, dockerHostOf(n.endpoint)])),
  });
  const timings = { nodeImageBuild, nodes: nodesSeconds, swarm: swarmSeconds, imageLoad, total: secondsSince(started) };
  deps.logger.info('sandbox up', { nodes: opts.nodes, seconds: timings.total });
  return { sandbox, timings };
}

/**
 * `dolly swarm sandbox down`: removes the root's node containers (and with them the nested
 * engines, their Swarm and everything running in it), their volumes, the network,
 * `<root>/sandbox.json`, the Docker endpoints file and the engines' socket directory, all found by label. Idempotent: nothing to remove is not an error.
 */
export async function sandboxDown(options: { root: string }, deps: Pick<SandboxDeps, 'docker' | 'logger'>): Promise<SandboxDownResult> {
  const started = Date.now();
  await assertDockerReachable(deps.docker);
  const found = await findSandboxObjects(deps.docker, options.root);
  await removeSandboxObjects(deps.docker, found);
  await removeSandboxState(options.root);
  await removeDockerEndpoints(options.root);
  await rm(sandboxEnginesDir(options.root), { recursive: true, force: true });
  const result = { containers: found.containers.length, volumes: found.volumes.length, networks: found.networks.length, seconds: secondsSince(started) };
  deps.logger.info('sandbox down', result);
  return result;
}

async function resolveImages(docker: DockerClient, requested: readonly string[] | undefined): Promise<string[]> {
  const images = requested ? [...new Set(requested)] : [DEFAULT_IMAGE];
  for (const image of images) {
    if (!(await imageExists(docker, image))) {
      throw new NotFoundError(`image ${image} not found on the host engine`, { hint: 'build it first (`dolly images build`); the sandbox copies images from the host, no registry' });
    }
  }
  if (!requested && (await imageExists(docker, DEFAULT_LOADGEN_IMAGE))) images.push(DEFAULT_LOADGEN_IMAGE);
  return images;
}

async function checkPoolPath(poolPath: string | undefined): Promise<void> {
  if (poolPath === undefined) return;
  const info = await stat(poolPath).catch(() => undefined);
  if (!info?.isDirectory()) throw new NotFoundError(`pool path ${poolPath} is not a directory`, { hint: 'make the pool on the host first (`dolly init`), then pass its mount point' });
}

/** Like Promise.all, but waits for every promise before rejecting (so undo sees all that was made). */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError('sandbox up interrupted');
}
