import { assertDockerReachable, type DockerClient } from '../../src/docker/client.js';
import { LABEL_NAME } from '../../src/labels.js';
import { messageOf } from '../../src/errors.js';
import { connectEngine, type ConnectEngine, type EngineEndpoint } from './node-engine.js';
import { LABEL_SANDBOX_POOL, LABEL_SANDBOX_ROLE, nodeSocketPath, sandboxFilter, sandboxNetworkName } from './sandbox-names.js';
import { listSwarmNodes, type SwarmNodeInfo } from './swarm-form.js';

/** One node of a root's sandbox, as the host engine and the Swarm's manager see it now. */
export interface SandboxNodeStatus {
  readonly hostname: string;
  readonly container: string;
  /** The role given at `sandbox up` (manager or worker). */
  readonly role: 'manager' | 'worker';
  readonly pool: boolean;
  /** The node container's state on the host engine (`running`, `exited`, ...). */
  readonly state: string;
  /** Its engine from the host (undefined when the container is not running). */
  readonly endpoint: EngineEndpoint | undefined;
  /** From the manager's node list; undefined when the manager does not answer or does not list it. */
  readonly swarm: { readonly id: string; readonly state: string; readonly availability: string; readonly role: string; readonly labels: Readonly<Record<string, string>> } | undefined;
}

export interface SandboxStatus {
  readonly root: string;
  readonly network: string;
  /** False when the root has no sandbox (no node container). */
  readonly exists: boolean;
  /** The manager's engine, to pass as `--docker-host` / DOCKER_HOST (`tcp://127.0.0.1:PORT`). */
  readonly manager: EngineEndpoint | undefined;
  /** Why the Swarm's view is missing, when it is. */
  readonly swarmError: string | undefined;
  readonly nodes: readonly SandboxNodeStatus[];
}

/**
 * `dolly swarm sandbox status`: the root's node containers (found by label) joined with the
 * manager's `listNodes` by hostname. Never throws for a stopped or broken sandbox: it reports it.
 */
export async function sandboxStatus(options: { root: string }, deps: { docker: DockerClient; connect?: ConnectEngine }): Promise<SandboxStatus> {
  await assertDockerReachable(deps.docker);
  const containers = await deps.docker.listContainers({ all: true, filters: sandboxFilter(options.root, 'sandbox-node') });
  const nodes = containers
    .map((c) => {
      return {
        hostname: c.Labels[LABEL_NAME] ?? '',
        container: (c.Names[0] ?? c.Id).replace(/^\//, ''),
        role: c.Labels[LABEL_SANDBOX_ROLE] === 'manager' ? ('manager' as const) : ('worker' as const),
        pool: c.Labels[LABEL_SANDBOX_POOL] === 'true',
        state: c.State,
        endpoint: c.State === 'running' ? { socket: nodeSocketPath(options.root, c.Labels[LABEL_NAME] ?? '') } : undefined,
      };
    })
    .sort((a, b) => a.hostname.localeCompare(b.hostname, 'en', { numeric: true }));
  const manager = nodes.find((n) => n.role === 'manager')?.endpoint;
  let listed: SwarmNodeInfo[] = [];
  let swarmError: string | undefined;
  if (manager) {
    try {
      listed = await listSwarmNodes((deps.connect ?? connectEngine)(manager));
    } catch (error) {
      swarmError = messageOf(error);
    }
  } else if (nodes.length > 0) {
    swarmError = 'the manager node is not running';
  }
  return {
    root: options.root,
    network: sandboxNetworkName(options.root),
    exists: nodes.length > 0,
    manager,
    swarmError,
    nodes: nodes.map((node) => {
      const seen = listed.find((n) => n.hostname === node.hostname);
      const swarm = seen ? { id: seen.id, state: seen.state, availability: seen.availability, role: seen.role, labels: seen.labels } : undefined;
      return { ...node, swarm };
    }),
  };
}
