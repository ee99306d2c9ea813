import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { parse } from 'yaml';
import { assertDockerReachable, createDockerClient, type DockerClient } from '../../docker/client.js';
import { InvalidArgumentError, NotFoundError } from '../../errors.js';
import type { Topology } from '../model.js';
import { connectEngine } from '../sandbox/node-engine.js';
import { readSandboxState } from '../sandbox/sandbox-state.js';
import { buildTopology } from '../topology.js';
import type { NodeEngines } from './swarm-facts.js';

/** The Pulumi stack file key that holds the topology (Pulumi.dev.yaml). */
const PULUMI_KEY = 'dolly-swarm:topology';

/**
 * The topology of a YAML file: either a Pulumi stack file (its `config.dolly-swarm:topology`, the
 * very config the Pulumi program reads) or a file holding that config alone.
 */
export async function readTopologyFile(path: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new NotFoundError(`cannot read the topology file ${path}`, { hint: 'pass --config FILE (a Pulumi stack file such as Pulumi.dev.yaml, or the topology alone)', cause: error });
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`${path} is not valid YAML`, { hint: 'check its indentation', cause: error });
  }
  const config = (document as { config?: Record<string, unknown> } | null)?.config?.[PULUMI_KEY] ?? document;
  return buildTopology(config as Parameters<typeof buildTopology>[0]);
}

/** A manager's engine and the engines of single nodes, where dolly knows them. */
export interface SwarmTarget {
  docker: DockerClient;
  engines: NodeEngines;
  description: string;
}

/**
 * Which Swarm `dolly swarm` talks to: `--docker-host` when given; else the root's sandbox while it
 * runs (its manager, and every node's engine for image checks); else the local engine (DOCKER_HOST).
 */
export async function swarmTarget(root: string, dockerHost: string | undefined): Promise<SwarmTarget> {
  if (dockerHost !== undefined) {
    const match = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(dockerHost);
    const docker = match ? new Docker({ protocol: 'http', host: match[1] ?? '', port: Number(match[2]) }) : dockerHost.startsWith('unix://') ? new Docker({ socketPath: dockerHost.slice('unix://'.length) }) : undefined;
    if (!docker) throw new InvalidArgumentError(`unsupported --docker-host ${JSON.stringify(dockerHost)}`, { hint: 'use tcp://HOST:PORT or unix:///path/docker.sock' });
    await assertDockerReachable(docker);
    return { docker, engines: () => undefined, description: dockerHost };
  }
  const sandbox = await readSandboxState(root);
  if (sandbox) {
    const clients = new Map(sandbox.nodes.map((n) => [n.hostname, connectEngine(n.endpoint)]));
    const manager = sandbox.nodes.find((n) => n.role === 'manager') ?? sandbox.nodes[0];
    const docker = manager ? clients.get(manager.hostname) : undefined;
    if (!docker || !manager) throw new NotFoundError('the sandbox has no manager', { hint: 'run `dolly swarm sandbox down` and `up` again' });
    await assertDockerReachable(docker);
    return { docker, engines: (hostname) => clients.get(hostname), description: `sandbox ${manager.hostname} (127.0.0.1:${manager.endpoint.port})` };
  }
  const docker = createDockerClient();
  await assertDockerReachable(docker);
  return { docker, engines: () => undefined, description: 'the local Docker engine' };
}
