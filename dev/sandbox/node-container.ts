import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DockerClient } from '../../src/docker/client.js';
import { InternalError, ResourceExhaustedError } from '../../src/errors.js';
import type { EngineEndpoint } from './node-engine.js';
import { LABEL_SANDBOX_POOL, LABEL_SANDBOX_ROLE, nodeContainerName, nodeSocketPath, sandboxEnginesDir, nodeHostname, nodeVolumeName, sandboxLabels } from './sandbox-names.js';

/**
 * What a node keeps instead of `--privileged` (which these machines refuse) or every capability:
 * each with the reason a nested Docker engine needs it. Everything else is dropped.
 */
export const NODE_CAPABILITIES: Readonly<Record<string, string>> = {
  // Docker's defaults for any container: the nested engine hands these on to its own containers
  // (a container can hold no capability its engine's container lacks).
  CHOWN: 'file ownership in image layers and volumes',
  DAC_OVERRIDE: 'dockerd and containerd reach files of other users (layers, sockets)',
  FOWNER: 'chmod/utime on files it does not own (unpacking layers)',
  FSETID: 'keep setuid bits when unpacking layers',
  KILL: 'signal the processes of its containers',
  SETGID: 'switch group for container processes',
  SETUID: 'switch user for container processes (servers run as uid 3306)',
  SETPCAP: 'drop capabilities from container processes',
  SETFCAP: 'file capabilities in image layers',
  MKNOD: 'device nodes in container /dev',
  NET_RAW: 'raw sockets (a default nested containers expect)',
  NET_BIND_SERVICE: 'containers binding ports below 1024 (a default)',
  SYS_CHROOT: 'pivot_root/chroot into a container root file system',
  AUDIT_WRITE: 'a default nested containers expect',
  // What makes it an engine:
  SYS_ADMIN: 'mounts (overlay layers, bind mounts, /sys and cgroup remounts), namespaces, cgroups',
  NET_ADMIN: 'bridges, veth pairs, iptables NAT for published ports, VXLAN and IPVS of Swarm overlays',
};

export const NODE_SECURITY = {
  CapDrop: ['ALL'],
  CapAdd: Object.keys(NODE_CAPABILITIES),
  // The nested engine sets up seccomp and AppArmor for its own containers; the node's profile would refuse its mounts.
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

/** Where a node's dockerd puts the socket the host reaches (the node's socket directory is mounted there). */
const NODE_SOCKET_DIR = '/run/dolly-sandbox';

/**
 * Starts one node: a labelled volume for its /var/lib/docker, then a container of the node image
 * running dockerd on its own unix socket and on a second one in a root-only host directory
 * (`nodeSocketPath`): no TCP port, so only the host's root reaches a node's engine. The pool node
 * also gets the root's pool and run directories (and nothing else of the root: not its state, tokens
 * or CA key) at the same paths, and the clone ports (127.0.0.1:P on the host → P in the node).
 * Records what it made in `made` as it goes.
 */
export async function startNodeContainer(docker: DockerClient, spec: NodeContainerSpec, made: MadeObjects): Promise<StartedNodeContainer> {
  const hostname = nodeHostname(spec.index);
  const name = nodeContainerName(spec.root, spec.index);
  const volume = nodeVolumeName(spec.root, spec.index);
  const labels = sandboxLabels(spec.root, 'sandbox-node', hostname);
  await docker.createVolume({ Name: volume, Labels: labels });
  made.volumes.push(volume);

  const socket = nodeSocketPath(spec.root, hostname);
  await mkdir(dirname(socket), { recursive: true, mode: 0o700 });
  await chmod(sandboxEnginesDir(spec.root), 0o700);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
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
    Cmd: ['--storage-driver', spec.storageDriver, '--host', 'unix:///var/run/docker.sock', '--host', `unix://${NODE_SOCKET_DIR}/docker.sock`],
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
      Binds: [`${dirname(socket)}:${NODE_SOCKET_DIR}`, ...(spec.pool && spec.poolPath !== undefined ? await poolBinds(spec.poolPath) : [])],
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
  if (!address) throw new InternalError(`node ${hostname} has no address on ${spec.network}`);
  return { container: name, hostname, address, endpoint: { socket } };
}

/**
 * What of a dolly root the pool node sees, at the same paths: the pool (volumes and snapshots the
 * servers there run on) and the run directories (their sockets, init files, TLS files). Made first,
 * so a bind never makes them as the engine's empty directories.
 */
async function poolBinds(root: string): Promise<string[]> {
  const dirs = [join(root, 'pool'), join(root, 'run')];
  for (const dir of dirs) await mkdir(dir, { recursive: true, mode: 0o700 });
  return dirs.map((dir) => `${dir}:${dir}`);
}
