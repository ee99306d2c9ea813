import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { isDockerConflict, isDockerNotFound, type DockerClient } from '../docker/client.js';
import { demuxLogs } from '../docker/log-frames.js';
import { AlreadyExistsError, CommandFailedError, InternalError, NotFoundError } from '../errors.js';
import { LABEL_KIND, LABEL_NAME, LABEL_PORT, LABEL_ROOT, LABEL_VOLUME, labelsFor, rootTag, type ObjectKind } from '../labels.js';
import { ensureCloneNetwork, removeCloneNetwork } from './clone-network.js';
import { SERVER_UID } from '../docker/server-user.js';
import { serverCommandLine, type Listen } from '../mysql/server-args.js';
import { CONTAINER_DATADIR, CONTAINER_FILESDIR, CONTAINER_PATHS, CONTAINER_PORT, CONTAINER_RUNDIR, CONTAINER_TMPDIR } from './container-layout.js';
import { ensureOwned } from './ownership.js';
import type { ServerInfo, ServerRuntime, ServerSpec } from './runtime.js';

/** Container name for a server of a root: short root hash keeps two roots apart on one engine. */
export function containerName(root: string, name: string): string {
  return `dolly-${rootTag(root)}-${name}`;
}

/** Size limits of a server's tmpfs mounts (memory is only used as they fill); a spec's limits may set the first. */
const TMPDIR_BYTES = 1024 * 1024 * 1024;
const FILESDIR_SIZE = '64m';

/**
 * How every server's container is confined: not root, no capabilities, no privilege gain, a
 * read-only root file system (only the datadir, run dir and two size-limited tmpfs are writable),
 * a bounded number of processes. The commit driver keeps its data in the container's own layer,
 * so its root file system stays writable.
 */
export function confinement(spec: ServerSpec): Docker.HostConfig {
  const tmpfs = 'rw,nosuid,nodev,noexec';
  return {
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: spec.data.kind === 'path',
    Tmpfs: {
      [CONTAINER_TMPDIR]: `${tmpfs},size=${spec.limits?.tmpdirBytes ?? TMPDIR_BYTES},mode=1777`,
      [CONTAINER_FILESDIR]: `${tmpfs},size=${FILESDIR_SIZE},mode=0700,uid=${SERVER_UID},gid=${SERVER_UID}`,
    },
    PidsLimit: 512,
    ...resourceLimits(spec.limits),
  };
}

/** A spec's limits as Docker's: memory with no swap beyond it, CPU weight and cap, OOM score. */
export function resourceLimits(limits: ServerSpec['limits']): Docker.HostConfig {
  if (limits === undefined) return {};
  return {
    ...(limits.memoryBytes !== undefined ? { Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes } : {}),
    ...(limits.cpuShares !== undefined ? { CpuShares: limits.cpuShares } : {}),
    ...(limits.cpus !== undefined ? { NanoCpus: Math.round(limits.cpus * 1e9) } : {}),
    ...(limits.oomScoreAdj !== undefined ? { OomScoreAdj: limits.oomScoreAdj } : {}),
  };
}

/**
 * An isolated clone resolves names from its own files only. Its server runs without
 * --skip-name-resolve (so that accounts named by host load) and looks up each client's address:
 * with `hosts: files` that fails at once and is cached, where a name server it cannot (and must
 * not) reach cost a second per connection. Docker's resolver points nowhere besides.
 */
const NO_RESOLVER: Docker.HostConfig = { Dns: ['127.0.0.1'], DnsOptions: ['timeout:1', 'attempts:1'] };
const FILES_ONLY = ['passwd', 'group', 'shadow', 'hosts', 'networks', 'protocols', 'services', 'ethers', 'rpc', 'netgroup'].map((db) => `${db}: files\n`).join('');
const NSSWITCH = 'nsswitch.conf';

/**
 * Where a server in a container listens: in its own namespace (`isolated`) on every address at
 * CONTAINER_PORT, which the runtime publishes on the host's `bindAddress:port`; in the host's
 * namespace on `bindAddress:port` itself; without a port, on its socket only.
 */
export function containerListen(spec: Pick<ServerSpec, 'network' | 'port' | 'bindAddress' | 'name'>): Listen {
  if (spec.port === undefined) return 'socket-only';
  if (spec.network === 'isolated') return { port: CONTAINER_PORT, bindAddress: '0.0.0.0' };
  if (spec.bindAddress === undefined) throw new InternalError(`server ${spec.name} has a port but no address to listen on`);
  return { port: spec.port, bindAddress: spec.bindAddress };
}

/** The command a spec's container runs: its server's command line for CONTAINER_PATHS (startup steps in `sh -c`). */
export function containerCommand(spec: ServerSpec): string[] {
  return serverCommandLine(spec.server, CONTAINER_PATHS, containerListen(spec));
}

/**
 * ServerRuntime on the Docker engine: one container per server, found again by its labels. It
 * maps a spec to a container: the datadir (a host path, or the image a commit driver made) and
 * the run directory mounted at CONTAINER_PATHS, two tmpfs, the server's uid, the confinement
 * below, the network and published port, and the server's command line for those paths.
 */
export class DockerRuntime implements ServerRuntime {
  /** False once the daemon failed to start a container with a lowered OOM score (see start). */
  private canLowerOomScore = true;

  constructor(
    private readonly docker: DockerClient,
    private readonly root: string,
  ) {}

  async start(spec: ServerSpec): Promise<ServerInfo> {
    const name = containerName(this.root, spec.name);
    const binds = [`${spec.runDir}:${CONTAINER_RUNDIR}`];
    if (spec.data.kind === 'path') binds.push(`${spec.data.path}:${CONTAINER_DATADIR}`);
    const image = spec.data.kind === 'image' ? spec.data.image : spec.image;
    const labels = labelsFor(this.root, spec.kind, spec.name, spec.volume);
    // Always set: a container made from a committed image would otherwise inherit the image's.
    labels[LABEL_PORT] = spec.port === undefined ? '' : String(spec.port);
    const [entrypoint, ...cmd] = containerCommand(spec);
    await ensureOwned(spec.runDir, SERVER_UID, SERVER_UID);
    if (spec.data.kind === 'path') await ensureOwned(spec.data.path, SERVER_UID, SERVER_UID);
    for (const mount of spec.extraMounts ?? []) {
      await ensureOwned(mount.path, SERVER_UID, SERVER_UID);
      binds.push(`${mount.path}:${mount.target}`);
    }
    if (spec.network === 'isolated') {
      await writeFile(join(spec.runDir, NSSWITCH), FILES_ONLY, { mode: 0o644 });
      binds.push(`${join(spec.runDir, NSSWITCH)}:/etc/nsswitch.conf:ro`);
    }
    const network = await this.network(spec);
    const options: Docker.ContainerCreateOptions = {
      name,
      Image: image,
      User: `${SERVER_UID}:${SERVER_UID}`,
      Entrypoint: entrypoint === undefined ? [] : [entrypoint],
      Cmd: cmd,
      Labels: labels,
      StopSignal: 'SIGTERM',
      StopTimeout: 120,
      ...(network.exposed ? { ExposedPorts: network.exposed } : {}),
      HostConfig: { ...confinement(spec), NetworkMode: network.mode, Binds: binds, RestartPolicy: { Name: spec.restart ?? 'no' }, ...(network.ports ? { PortBindings: network.ports } : {}), ...(spec.network === 'isolated' ? NO_RESOLVER : {}) },
    };
    const create = async (host: Docker.HostConfig): Promise<Docker.Container> => this.createContainer({ ...options, HostConfig: { ...options.HostConfig, ...host } }, name, image);
    const lowered = (spec.limits?.oomScoreAdj ?? 0) < 0;
    /** Creates and starts; a container that does not start is removed, and the error is dolly's. */
    const run = async (host: Docker.HostConfig): Promise<Docker.Container> => {
      const made = await create(host);
      try {
        await made.start();
        return made;
      } catch (error) {
        await made.remove({ force: true, v: true }).catch(() => undefined);
        throw new CommandFailedError(`docker start ${name}`, null, describeDockerError(error), { cause: error });
      }
    };
    let container: Docker.Container;
    try {
      container = await run(lowered && !this.canLowerOomScore ? { OomScoreAdj: 0 } : {});
    } catch (error) {
      // A daemon without CAP_SYS_RESOURCE (a sandbox) cannot start a container whose OOM score is
      // lowered: it starts at the default score instead (still below a clone's), and so does
      // every later one of this runtime.
      if (!(lowered && this.canLowerOomScore) || !(error instanceof CommandFailedError)) throw error;
      this.canLowerOomScore = false;
      container = await run({ OomScoreAdj: 0 });
    }
    return { name: spec.name, kind: spec.kind, volume: spec.volume, state: 'running', id: container.id, restarts: 0 };
  }

  /** createContainer with dolly's errors: a name taken, an image missing. */
  private async createContainer(options: Docker.ContainerCreateOptions, name: string, image: string): Promise<Docker.Container> {
    try {
      return await this.docker.createContainer(options);
    } catch (error) {
      if (isDockerConflict(error)) {
        throw new AlreadyExistsError(`a container named ${name} already exists`, {
          hint: 'run `dolly up` to adopt it, or `dolly teardown` to remove what this root left behind',
          cause: error,
        });
      }
      if (isDockerNotFound(error)) {
        throw new NotFoundError(`image ${image} not found`, {
          hint: image.startsWith('dolly/') ? 'build it with `dolly images build`' : `pull it with \`docker pull ${image}\``,
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Host or no networking as asked; `isolated`: the root's clone network, the port published. */
  private async network(spec: ServerSpec): Promise<{ mode: string; exposed?: Record<string, object>; ports?: Docker.PortMap }> {
    if (spec.network !== 'isolated') return { mode: spec.network };
    if (spec.port === undefined || spec.bindAddress === undefined) throw new InternalError(`server ${spec.name} is isolated but has no port to publish`);
    const key = `${CONTAINER_PORT}/tcp`;
    return {
      mode: await ensureCloneNetwork(this.docker, this.root),
      exposed: { [key]: {} },
      ports: { [key]: [{ HostIp: spec.bindAddress, HostPort: String(spec.port) }] },
    };
  }

  async ensureShared(): Promise<void> {
    await ensureCloneNetwork(this.docker, this.root);
  }

  async removeShared(): Promise<void> {
    await removeCloneNetwork(this.docker, this.root);
  }

  async startExisting(name: string): Promise<void> {
    const container = await this.container(name);
    const info = await container.inspect();
    if (!info.State.Running) await container.start();
  }

  async stop(name: string, timeoutSeconds = 120): Promise<void> {
    try {
      const container = this.docker.getContainer(containerName(this.root, name));
      const info = await container.inspect();
      if (info.State.Running) await container.stop({ t: timeoutSeconds });
    } catch (error) {
      if (isDockerNotFound(error) || isNotModified(error)) return;
      throw error;
    }
  }

  async waitExit(name: string, timeoutMs: number): Promise<number> {
    const container = await this.container(name);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CommandFailedError(`waiting for ${name} to exit`, null, `still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const result = (await Promise.race([container.wait(), timeout])) as { StatusCode: number };
      return result.StatusCode;
    } finally {
      clearTimeout(timer);
    }
  }

  async remove(name: string): Promise<void> {
    try {
      await this.docker.getContainer(containerName(this.root, name)).remove({ force: true, v: true });
    } catch (error) {
      if (isDockerNotFound(error)) return;
      // 409 "removal already in progress" also means it is going away.
      if (isDockerConflict(error)) return;
      throw error;
    }
  }

  async inspect(name: string): Promise<ServerInfo> {
    const container = await this.container(name);
    const info = await container.inspect();
    const labels = info.Config.Labels ?? {};
    return {
      name,
      kind: (labels[LABEL_KIND] ?? 'clone') as ObjectKind,
      volume: labels[LABEL_VOLUME] ?? '',
      // A container between two tries of its restart policy is not running for anyone.
      state: info.State.Running && !info.State.Restarting ? 'running' : 'stopped',
      id: info.Id,
      restarts: info.RestartCount,
    };
  }

  async list(): Promise<ServerInfo[]> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_ROOT}=${this.root}`] } });
    return containers.map((c) => ({
      name: c.Labels[LABEL_NAME] ?? '',
      kind: (c.Labels[LABEL_KIND] ?? 'clone') as ObjectKind,
      volume: c.Labels[LABEL_VOLUME] ?? '',
      state: c.State === 'running' ? 'running' : 'stopped',
      id: c.Id,
      restarts: 0,
    }));
  }

  async logs(name: string, tailLines: number): Promise<string> {
    try {
      const container = await this.container(name);
      const raw = await container.logs({ stdout: true, stderr: true, tail: tailLines, follow: false });
      return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
    } catch {
      return '';
    }
  }

  async memoryBytes(name: string): Promise<number> {
    const container = await this.container(name);
    const stats = (await container.stats({ stream: false })) as { memory_stats?: { usage?: number; stats?: Record<string, number> } };
    const usage = stats.memory_stats?.usage ?? 0;
    const inactive = stats.memory_stats?.stats?.inactive_file ?? stats.memory_stats?.stats?.total_inactive_file ?? 0;
    return Math.max(0, usage - inactive);
  }

  private async container(name: string): Promise<Docker.Container> {
    const container = this.docker.getContainer(containerName(this.root, name));
    try {
      await container.inspect();
    } catch (error) {
      if (isDockerNotFound(error)) throw new NotFoundError(`no container for ${name}`, { hint: 'run `dolly up` to recreate what is missing', cause: error });
      throw error;
    }
    return container;
  }
}

function isNotModified(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'statusCode' in error && (error as { statusCode: unknown }).statusCode === 304;
}

function describeDockerError(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'json' in error) {
    const json = (error as { json: unknown }).json;
    if (typeof json === 'object' && json !== null && 'message' in json) return String((json as { message: unknown }).message);
  }
  return error instanceof Error ? error.message : String(error);
}
