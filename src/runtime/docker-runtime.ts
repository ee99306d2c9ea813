import type Docker from 'dockerode';
import { isDockerConflict, isDockerNotFound, type DockerClient } from '../docker/client.js';
import { AlreadyExistsError, CommandFailedError, NotFoundError } from '../errors.js';
import { LABEL_KIND, LABEL_NAME, LABEL_PORT, LABEL_ROOT, LABEL_VOLUME, labelsFor, rootTag, type ObjectKind } from '../labels.js';
import { CONTAINER_DATADIR, CONTAINER_RUNDIR, type ServerInfo, type ServerRuntime, type ServerSpec } from './runtime.js';

/** Container name for a server of a root: short root hash keeps two roots apart on one engine. */
export function containerName(root: string, name: string): string {
  return `dolly-${rootTag(root)}-${name}`;
}

/** ServerRuntime on the Docker engine: one container per server, found again by its labels. */
export class DockerRuntime implements ServerRuntime {
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
    const [entrypoint, ...cmd] = spec.command;
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name,
        Image: image,
        Entrypoint: entrypoint === undefined ? [] : [entrypoint],
        Cmd: cmd,
        Labels: labels,
        StopSignal: 'SIGTERM',
        StopTimeout: 120,
        HostConfig: { NetworkMode: spec.network, Binds: binds, RestartPolicy: { Name: 'no' } },
      });
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
    try {
      await container.start();
    } catch (error) {
      await container.remove({ force: true, v: true }).catch(() => undefined);
      throw new CommandFailedError(`docker start ${name}`, null, describeDockerError(error), { cause: error });
    }
    return { name: spec.name, kind: spec.kind, volume: spec.volume, state: 'running', id: container.id };
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
      state: info.State.Running ? 'running' : 'stopped',
      id: info.Id,
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
    }));
  }

  async logs(name: string, tailLines: number): Promise<string> {
    try {
      const container = await this.container(name);
      const raw = await container.logs({ stdout: true, stderr: true, tail: tailLines, follow: false });
      return demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
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

/** Docker's multiplexed log stream (no TTY): 8-byte frame headers, then the payload. */
function demux(buffer: Buffer): string {
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    if ((stream !== 1 && stream !== 2) || offset + 8 + size > buffer.length) return buffer.toString('utf8');
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString('utf8'));
    offset += 8 + size;
  }
  return parts.join('');
}
