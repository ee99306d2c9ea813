import type Docker from 'dockerode';
import type { DockerClient } from '../../docker/client.js';
import { imageExists } from '../../docker/image-build.js';
import { FailedPreconditionError } from '../../errors.js';
import type { DeployedObject } from '../diff.js';
import { LABEL_SWARM_SPEC_HASH, LABEL_SWARM_STACK } from '../labels.js';
import type { Topology } from '../model.js';
import type { LiveNode, SwarmFacts, TakenPort } from './preflight.js';

/** A stack's object on the Swarm with the ids a deploy needs. */
export interface StackObject extends DeployedObject {
  readonly id: string;
  /** Services: the version an update must name. */
  readonly version: number | undefined;
}

/** Engines of single nodes (the sandbox knows them), to ask which images a node has. */
export type NodeEngines = (hostname: string) => DockerClient | undefined;

/** Throws a clear error unless `docker` is a Swarm manager. */
export async function assertManager(docker: DockerClient): Promise<void> {
  try {
    await docker.swarmInspect();
  } catch (error) {
    throw new FailedPreconditionError('the Docker engine is not a Swarm manager', {
      hint: 'run it against a manager (--docker-host), `docker swarm init`, or `dolly swarm sandbox up`',
      cause: error,
    });
  }
}

/** The fields of the Engine API's Node that dolly reads (@types/dockerode types listNodes as any[]). */
interface SwarmNodeInfo {
  ID?: string;
  Version?: { Index?: number };
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> };
  Status?: { State?: string };
}

export async function liveNodes(docker: DockerClient): Promise<(LiveNode & { version: number; spec: NonNullable<SwarmNodeInfo['Spec']> })[]> {
  const nodes: SwarmNodeInfo[] = await docker.listNodes();
  return nodes.map((node) => ({
    id: node.ID ?? '',
    version: node.Version?.Index ?? 0,
    hostname: node.Description?.Hostname ?? '',
    role: node.Spec?.Role === 'manager' ? 'manager' : 'worker',
    labels: node.Spec?.Labels ?? {},
    ready: node.Status?.State === 'ready' && node.Spec?.Availability === 'active',
    spec: node.Spec ?? {},
  }));
}

/** Every network, secret and service labelled with the stack. */
export async function stackObjects(docker: DockerClient, stack: string): Promise<StackObject[]> {
  const filters = { label: [`${LABEL_SWARM_STACK}=${stack}`] };
  const networks = await docker.listNetworks({ filters });
  const secrets = (await docker.listSecrets({ filters })) as Docker.Secret[];
  const services = await docker.listServices({ filters });
  return [
    ...networks.map((n) => ({ kind: 'network' as const, name: n.Name, id: n.Id, hash: n.Labels?.[LABEL_SWARM_SPEC_HASH], version: undefined })),
    ...secrets.map((s) => ({ kind: 'secret' as const, name: s.Spec?.Name ?? '', id: s.ID, hash: s.Spec?.Labels?.[LABEL_SWARM_SPEC_HASH], version: undefined })),
    ...services.map((s) => ({ kind: 'service' as const, name: s.Spec?.Name ?? '', id: s.ID, hash: s.Spec?.Labels?.[LABEL_SWARM_SPEC_HASH], version: s.Version?.Index })),
  ];
}

/** Ports published by services of other stacks (or of none). */
async function takenPorts(docker: DockerClient, stack: string): Promise<TakenPort[]> {
  const services = await docker.listServices();
  return services
    .filter((s) => s.Spec?.Labels?.[LABEL_SWARM_STACK] !== stack)
    .flatMap((s) => (s.Spec?.EndpointSpec?.Ports ?? []).map((p) => ({ port: p.PublishedPort ?? 0, service: s.Spec?.Name ?? s.ID })))
    .filter((p) => p.port > 0);
}

/** Reads what preflight needs; asks each reachable node's engine which of the topology's images it has. */
export async function swarmFacts(docker: DockerClient, topology: Topology, engines: NodeEngines): Promise<SwarmFacts> {
  const nodes = await liveNodes(docker);
  const images = [...new Set(Object.values(topology.services).map((s) => s.image))];
  const present = new Map<string, boolean>();
  for (const node of nodes) {
    const engine = engines(node.hostname);
    if (!engine) continue;
    for (const image of images) present.set(`${node.hostname} ${image}`, await imageExists(engine, image));
  }
  return { nodes, takenPorts: await takenPorts(docker, topology.stack), hasImage: (hostname, image) => present.get(`${hostname} ${image}`) };
}
