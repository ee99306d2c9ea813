import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { assertDockerReachable, createDockerClient, type DockerClient } from '../../docker/client.js';
import { InvalidArgumentError, NotFoundError } from '../../errors.js';
import type { Topology } from '../model.js';
import { connectDocker, readDockerEndpoints } from '../../docker/endpoints.js';
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
 * Which Swarm `dolly swarm` talks to: `--docker-host` when given; else the manager named in the
 * root's Docker endpoints file (and its nodes' engines, for image checks); else the local engine.
 */
export async function swarmTarget(root: string, dockerHost: string | undefined): Promise<SwarmTarget> {
  if (dockerHost !== undefined) {
    const docker = connectDocker(dockerHost);
    await assertDockerReachable(docker);
    return { docker, engines: () => undefined, description: dockerHost };
  }
  const endpoints = await readDockerEndpoints(root);
  if (endpoints?.manager !== undefined) {
    const clients = new Map(Object.entries(endpoints.nodes ?? {}).map(([hostname, url]) => [hostname, connectDocker(url)]));
    const docker = connectDocker(endpoints.manager);
    await assertDockerReachable(docker);
    return { docker, engines: (hostname) => clients.get(hostname), description: `the manager at ${endpoints.manager}` };
  }
  const docker = createDockerClient();
  await assertDockerReachable(docker);
  return { docker, engines: () => undefined, description: 'the local Docker engine' };
}
