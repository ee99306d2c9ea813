import type { DockerClient } from '../../docker/client.js';
import { InternalError, ResourceExhaustedError } from '../../errors.js';
import type { EngineEndpoint } from './node-engine.js';
import { LABEL_SANDBOX_POOL, LABEL_SANDBOX_ROLE, nodeContainerName, nodeHostname, nodeVolumeName, sandboxLabels } from './sandbox-names.js';

/** The capabilities a node needs instead of `--privileged`, which these machines refuse. */
export const NODE_SECURITY = {
  CapAdd: ['ALL'],
  CapDrop: ['SYS_RESOURCE'],
  SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
} as const;

/** One node container to start on the host engine. */
export interface NodeContainerSpec {
  readonly root: string;
  /** 1-based; node-1 is the manager. */
  readonly index: number;
  readonly image: string;
  readonly network: string;
  readonly storageDriver: 'overlay2' | 'vfs';
  /** The pool node gets the pool path and the clone ports. */
  readonly pool: boolean;
  readonly poolPath: string | undefined;
  readonly clonePorts: { readonly first: number; readonly last: number };
}

/** A started node container. */
export interface StartedNodeContainer {
  readonly container: string;
  readonly hostname: string;
  readonly address: string;
  readonly endpoint: EngineEndpoint;
}

/** What the caller must remove if a later step fails (names, so a retry never removes another's). */
export interface MadeObjects {
  containers: string[];
  volumes: string[];
  networks: string[];
}

/**
 * Starts one node: a labelled volume for its /var/lib/docker, then a container of the node image
 * running dockerd on its unix socket and on tcp 2375, published on a free port of the host's
 * 127.0.0.1 only. The pool node also gets the pool path at the same path and the clone ports
 * (127.0.0.1:P on the host → P in the node). Records what it made in `made` as it goes.
 */
export async function startNodeContainer(docker: DockerClient, spec: NodeContainerSpec, made: MadeObjects): Promise<StartedNodeContainer> {
  const hostname = nodeHostname(spec.index);
  const name = nodeContainerName(spec.root, spec.index);
  const volume = nodeVolumeName(spec.root, spec.index);
  const labels = sandboxLabels(spec.root, 'sandbox-node', hostname);
  await docker.createVolume({ Name: volume, Labels: labels });
  made.volumes.push(volume);

  const exposed: Record<string, object> = { '2375/tcp': {} };
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = { '2375/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] };
  if (spec.pool) {
    for (let port = spec.clonePorts.first; port <= spec.clonePorts.last; port += 1) {
      exposed[`${port}/tcp`] = {};
      bindings[`${port}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: String(port) }];
    }
  }
  const container = await docker.createContainer({
    name,
    Hostname: hostname,
    Image: spec.image,
    Cmd: ['--storage-driver', spec.storageDriver, '--host', 'unix:///var/run/docker.sock', '--host', 'tcp://0.0.0.0:2375', '--tls=false'],
    Labels: { ...labels, [LABEL_SANDBOX_ROLE]: spec.index === 1 ? 'manager' : 'worker', [LABEL_SANDBOX_POOL]: String(spec.pool) },
    ExposedPorts: exposed,
    HostConfig: {
      CapAdd: [...NODE_SECURITY.CapAdd],
      CapDrop: [...NODE_SECURITY.CapDrop],
      SecurityOpt: [...NODE_SECURITY.SecurityOpt],
      Init: true,
      NetworkMode: spec.network,
      PortBindings: bindings,
      Mounts: [{ Type: 'volume', Source: volume, Target: '/var/lib/docker' }],
      Binds: spec.pool && spec.poolPath !== undefined ? [`${spec.poolPath}:${spec.poolPath}`] : [],
      RestartPolicy: { Name: 'no' },
    },
    NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: [hostname] } } },
  });
  made.containers.push(name);
  try {
    await container.start();
  } catch (error) {
    if (!/address already in use|port is already allocated/.test(String(error))) throw error;
    throw new ResourceExhaustedError(`a port of ${hostname} is taken on the host's 127.0.0.1`, {
      hint: spec.pool ? `free ports ${spec.clonePorts.first}-${spec.clonePorts.last} or choose another clone port range` : 'try again',
      cause: error,
    });
  }
  const inspected = await container.inspect();
  const address = inspected.NetworkSettings.Networks[spec.network]?.IPAddress;
  const port = inspected.NetworkSettings.Ports['2375/tcp']?.[0]?.HostPort;
  if (!address || !port) throw new InternalError(`node ${hostname} has no address on ${spec.network} or no published engine port`);
  return { container: name, hostname, address, endpoint: { host: '127.0.0.1', port: Number(port) } };
}
