import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { DockerClient } from './client.js';

/**
 * A Docker engine's address: `unix:///path/docker.sock`, or `tcp://HOST:PORT` (plain HTTP; only
 * for an engine that listens on a loopback or a trusted network, as Docker's own `-H tcp://` does).
 */
const endpointUrl = z.string().regex(/^(unix:\/\/\/\S+|tcp:\/\/[^\s:/]+:\d{1,5}\/?)$/, 'an engine is unix:///path/docker.sock or tcp://HOST:PORT');

const endpointsSchema = z.strictObject({
  /** The engine that runs this root's servers (prepare, clones) when it is not the local one. */
  servers: endpointUrl.optional(),
  /** A Swarm manager's engine, for `dolly swarm` (default: the local engine). */
  manager: endpointUrl.optional(),
  /** Each Swarm node's engine by its hostname, for the checks that ask one node (its images). */
  nodes: z.record(z.string(), endpointUrl).optional(),
});

/**
 * `<root>/docker-endpoints.json`: which Docker engines a root uses besides the local one (DOCKER_HOST).
 * Written by whoever lays out the machines (by hand, or the development sandbox in dev/sandbox);
 * read only by composition roots (the CLI, `serve`, scripts), which hand the engine the clients.
 */
export type DockerEndpoints = z.infer<typeof endpointsSchema>;

export function dockerEndpointsPath(root: string): string {
  return join(root, 'docker-endpoints.json');
}

/** The root's endpoints, or undefined when it has none (everything on the local engine). */
export async function readDockerEndpoints(root: string): Promise<DockerEndpoints | undefined> {
  let text: string;
  try {
    text = await readFile(dockerEndpointsPath(root), 'utf8');
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
  const refuse = (why: string): FailedPreconditionError =>
    new FailedPreconditionError(`${dockerEndpointsPath(root)} is not a Docker endpoints file: ${why}`, {
      hint: 'fix it (keys servers, manager, nodes; values unix:///path or tcp://HOST:PORT) or remove it to use the local engine',
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw refuse('not JSON');
  }
  const parsed = endpointsSchema.safeParse(json);
  if (!parsed.success) throw refuse(parsed.error.issues[0]?.message ?? 'unexpected content');
  return parsed.data;
}

/** Writes the endpoints atomically (0644: addresses, never a secret). */
export async function writeDockerEndpoints(root: string, endpoints: DockerEndpoints): Promise<void> {
  await writeFileAtomic(dockerEndpointsPath(root), `${JSON.stringify(endpointsSchema.parse(endpoints), null, 2)}\n`, { mode: 0o644 });
}

export async function removeDockerEndpoints(root: string): Promise<void> {
  await rm(dockerEndpointsPath(root), { force: true });
}

/** A client for an engine address (see `endpointUrl`); a bad one is an InvalidArgumentError naming it. */
export function connectDocker(url: string): DockerClient {
  if (url.startsWith('unix://')) return new Docker({ socketPath: url.slice('unix://'.length) });
  const match = /^tcp:\/\/([^\s:/]+):(\d{1,5})\/?$/.exec(url);
  if (!match) throw new InvalidArgumentError(`unsupported Docker engine address ${JSON.stringify(url)}`, { hint: 'use unix:///path/docker.sock or tcp://HOST:PORT' });
  return new Docker({ protocol: 'http', host: match[1] ?? '', port: Number(match[2]) });
}

/**
 * A port check for an engine on another machine (or in another network namespace), where binding
 * the port here proves nothing: free when no running container of that engine publishes it.
 */
export function enginePortFree(docker: DockerClient): (port: number) => Promise<boolean> {
  return async (port) => {
    const containers = await docker.listContainers();
    return !containers.some((c) => c.Ports.some((p) => p.PublicPort === port));
  };
}

/** The engine a root's servers run on, from its endpoints file; undefined: the local engine. */
export async function serversEndpoint(root: string): Promise<{ docker: DockerClient; portFree: (port: number) => Promise<boolean> } | undefined> {
  const url = (await readDockerEndpoints(root))?.servers;
  if (url === undefined) return undefined;
  const docker = connectDocker(url);
  return { docker, portFree: enginePortFree(docker) };
}
