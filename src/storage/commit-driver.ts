import { mkdir, readdir, readFile, rm, rmdir, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { isDockerConflict, isDockerNotFound, type DockerClient } from '../docker/client.js';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from '../errors.js';
import { LABEL_ROOT, LABEL_VOLUME, labelsFor } from '../labels.js';
import type { Logger } from '../log.js';
import { assertVolumeId, mapNoSpace } from './driver-errors.js';
import { isValidVolumeId, type DataMount, type PoolSpace, type StorageDriver } from './driver.js';

/** The seed's way: data lives in containers and committed images (stored in the state file). */
export type CommitPoolConfig = {
  driver: 'commit';
  /** The image a new (empty) volume's container is created from. */
  baseImage: string;
};

export interface CommitDriverDeps {
  docker: DockerClient;
  /** dolly's root: the value of the dolly.root label, and where volume markers are kept. */
  root: string;
  logger: Logger;
}

/** Snapshots are the images `dolly-snapshot:<id>`. */
export const SNAPSHOT_REPO = 'dolly-snapshot';
/** `true` on a sealed snapshot image. */
export const LABEL_SEALED = 'dolly.sealed';
const NO_SPACE_HINT = "free space under Docker's data root (`docker system df`), or destroy clones and snapshots you no longer need";

/**
 * StorageDriver on `docker commit` (slow: a commit copies every changed file). A volume is the
 * writable layer of the one container labelled dolly.root=<root>, dolly.volume=<id>, created by
 * the runtime from mount(id).image. snapshot() commits that container (paused) to
 * `dolly-snapshot:<id>`; seal() commits the snapshot's own container (the prepare server) again
 * and labels the image sealed; clone() hands out the sealed image. createVolume() and clone()
 * record a marker file at `<root>/pool/volumes/<id>` (the image to use) so the volume exists
 * before and after its container. remove() is refused while the volume's container exists,
 * and for a snapshot while clones' containers use its image.
 */
export class CommitDriver implements StorageDriver {
  readonly name = 'commit';
  readonly atomic = true;
  private readonly markers: string;

  constructor(
    private readonly config: CommitPoolConfig,
    private readonly deps: CommitDriverDeps,
  ) {
    this.markers = join(deps.root, 'pool', 'volumes');
  }

  async open(): Promise<void> {
    await mkdir(this.markers, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {}

  async destroy(): Promise<void> {
    for (const image of await this.images()) {
      for (const tag of image.RepoTags ?? []) if (tag.startsWith(`${SNAPSHOT_REPO}:`)) await this.removeImage(tag);
    }
    // What is left is untagged (superseded by seal()); children before their parents.
    const rest = (await this.images()).sort((a, b) => b.Created - a.Created);
    for (const image of rest) await this.removeImage(image.Id);
    await rm(this.markers, { recursive: true, force: true });
    await rmdir(join(this.deps.root, 'pool')).catch(() => undefined);
  }

  async createVolume(id: string): Promise<DataMount> {
    await this.assertFree(id);
    if ((await this.inspectImage(this.config.baseImage)) === null) {
      throw new NotFoundError(`image ${this.config.baseImage} not found`, { hint: 'build it with `dolly images build`' });
    }
    return this.writeMarker(id, this.config.baseImage);
  }

  async snapshot(sourceId: string, id: string): Promise<DataMount> {
    assertVolumeId(sourceId);
    await this.assertFree(id);
    const container = await this.containerOf(sourceId);
    if (container === null) {
      if (!(await this.exists(sourceId))) throw new NotFoundError(`volume ${sourceId} not found`);
      throw new FailedPreconditionError(`volume ${sourceId} has no container to commit`, { hint: 'start its server first' });
    }
    await this.commit(container.Id, id, false, `snapshotting ${sourceId}`);
    return { kind: 'image', image: tagOf(id) };
  }

  async seal(id: string): Promise<void> {
    assertVolumeId(id);
    const image = await this.ownImage(id);
    if (image === null) throw new NotFoundError(`snapshot ${id} not found`);
    if (image.Config.Labels?.[LABEL_SEALED] === 'true') return;
    const existing = await this.containerOf(id);
    if (existing !== null) {
      await this.commit(existing.Id, id, true, `sealing ${id}`);
    } else {
      // Nothing ran on the snapshot: commit a throwaway container of it, just to carry the label.
      const temp = await this.deps.docker.createContainer({
        Image: tagOf(id),
        Entrypoint: [],
        Cmd: ['true'],
        Labels: labelsFor(this.deps.root, 'snapshot', id, id),
        HostConfig: { NetworkMode: 'none' },
      });
      try {
        await this.commit(temp.id, id, true, `sealing ${id}`);
      } finally {
        await temp.remove({ force: true }).catch(() => undefined);
      }
    }
    // The unsealed image is normally the sealed one's parent layer and stays; drop it if not.
    await this.removeImage(image.Id, true);
  }

  async clone(snapshotId: string, id: string): Promise<DataMount> {
    assertVolumeId(snapshotId);
    const image = await this.ownImage(snapshotId);
    if (image === null) throw new NotFoundError(`snapshot ${snapshotId} not found`);
    if (image.Config.Labels?.[LABEL_SEALED] !== 'true') {
      throw new FailedPreconditionError(`snapshot ${snapshotId} is not sealed`, { hint: 'seal (prepare) the snapshot before cloning it' });
    }
    await this.assertFree(id);
    return this.writeMarker(id, tagOf(snapshotId));
  }

  async remove(id: string): Promise<void> {
    assertVolumeId(id);
    const container = await this.containerOf(id);
    if (container !== null) {
      throw new FailedPreconditionError(`volume ${id} is still used by container ${container.Names[0] ?? container.Id}`, { hint: 'remove its server first' });
    }
    const [image, marker] = await Promise.all([this.ownImage(id), this.readMarker(id)]);
    if (image === null && marker === null) throw new NotFoundError(`volume ${id} not found`);
    if (image !== null) await this.removeImage(tagOf(id));
    await rm(join(this.markers, id), { force: true });
  }

  async mount(id: string): Promise<DataMount> {
    assertVolumeId(id);
    if (await this.ownImage(id)) return { kind: 'image', image: tagOf(id) };
    const marker = await this.readMarker(id);
    if (marker !== null) return { kind: 'image', image: marker };
    const container = await this.containerOf(id);
    if (container === null) throw new NotFoundError(`volume ${id} not found`);
    return { kind: 'image', image: container.Image };
  }

  async exists(id: string): Promise<boolean> {
    assertVolumeId(id);
    return (await this.ownImage(id)) !== null || (await this.readMarker(id)) !== null || (await this.containerOf(id)) !== null;
  }

  async list(): Promise<string[]> {
    const ids = new Set(await readdir(this.markers).catch(() => []));
    for (const image of await this.images()) {
      for (const tag of image.RepoTags ?? []) if (tag.startsWith(`${SNAPSHOT_REPO}:`)) ids.add(tag.slice(SNAPSHOT_REPO.length + 1));
    }
    const containers = await this.deps.docker.listContainers({ all: true, filters: { label: [`${LABEL_ROOT}=${this.deps.root}`, LABEL_VOLUME] } });
    for (const container of containers) ids.add(container.Labels[LABEL_VOLUME] ?? '');
    return [...ids].filter(isValidVolumeId).sort();
  }

  async exclusiveBytes(id: string): Promise<number> {
    assertVolumeId(id);
    const image = await this.ownImage(id);
    if (image !== null) {
      const base = await this.inspectImage(this.config.baseImage);
      return Math.max(0, image.Size - (base?.Size ?? 0));
    }
    const container = (await this.containerOf(id, true)) as (Docker.ContainerInfo & { SizeRw?: number }) | null;
    if (container !== null) return container.SizeRw ?? 0;
    if ((await this.readMarker(id)) !== null) return 0;
    throw new NotFoundError(`volume ${id} not found`);
  }

  /** Plain directories and container layers have no per-volume limit: only the pool's floor applies. */
  async limit(id: string): Promise<boolean> {
    if (!(await this.exists(id))) throw new NotFoundError(`volume ${id} not found`);
    return false;
  }

  /** No group limit over the clones either: below the reserve only new clones are refused. */
  async reserveFree(): Promise<null> {
    return null;
  }

  /** The pool is Docker's own storage: nothing dolly may trim. */
  async discardFree(): Promise<boolean> {
    return false;
  }

  async space(): Promise<PoolSpace> {
    const info: unknown = await this.deps.docker.info();
    const dir = typeof info === 'object' && info !== null && 'DockerRootDir' in info && typeof info.DockerRootDir === 'string' ? info.DockerRootDir : '/var/lib/docker';
    const fs = await statfs(dir);
    return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  }

  private async commit(containerId: string, id: string, sealed: boolean, what: string): Promise<void> {
    const labels = { ...labelsFor(this.deps.root, 'snapshot', id, id), [LABEL_SEALED]: String(sealed) };
    const changes = Object.entries(labels).map(([key, value]) => `LABEL ${JSON.stringify(key)}=${JSON.stringify(value)}`);
    try {
      await this.deps.docker.getContainer(containerId).commit({ _query: { container: containerId, repo: SNAPSHOT_REPO, tag: id, pause: true, changes } });
    } catch (error) {
      if (isDockerNotFound(error)) throw new NotFoundError(`the container of volume ${id} is gone`, { cause: error });
      throw mapNoSpace(error, what, NO_SPACE_HINT);
    }
  }

  /**
   * Removes an image (by tag or id) that no container uses; untagged parents go with it. An image
   * in use (or with children) is a FailedPreconditionError, or left alone when `ifUnused`.
   */
  private async removeImage(ref: string, ifUnused = false): Promise<void> {
    try {
      await this.deps.docker.getImage(ref).remove({ force: false, noprune: false });
    } catch (error) {
      if (isDockerNotFound(error) || (ifUnused && isDockerConflict(error))) return;
      if (isDockerConflict(error)) {
        throw new FailedPreconditionError(`image ${ref} is still used by a container`, { hint: 'destroy the clones and servers that use it first', cause: error });
      }
      throw error;
    }
  }

  private async assertFree(id: string): Promise<void> {
    assertVolumeId(id);
    const image = await this.inspectImage(tagOf(id));
    if (image !== null && image.Config.Labels?.[LABEL_ROOT] !== this.deps.root) {
      throw new AlreadyExistsError(`image ${tagOf(id)} belongs to another dolly root on this engine`, { hint: 'choose another name' });
    }
    if (image !== null || (await this.exists(id))) throw new AlreadyExistsError(`volume ${id} already exists`);
  }

  /** Every image of this root, tagged or not (snapshots and their superseded layers). */
  private async images(): Promise<Docker.ImageInfo[]> {
    return this.deps.docker.listImages({ all: true, filters: { label: [`${LABEL_ROOT}=${this.deps.root}`] } });
  }

  /** The snapshot image `id` when it belongs to this root. */
  private async ownImage(id: string): Promise<Docker.ImageInspectInfo | null> {
    const image = await this.inspectImage(tagOf(id));
    return image !== null && image.Config.Labels?.[LABEL_ROOT] === this.deps.root ? image : null;
  }

  private async inspectImage(ref: string): Promise<Docker.ImageInspectInfo | null> {
    try {
      return await this.deps.docker.getImage(ref).inspect();
    } catch (error) {
      if (isDockerNotFound(error)) return null;
      throw error;
    }
  }

  /** The container of volume `id` (with `size`: its SizeRw, which costs the engine a scan). */
  private async containerOf(id: string, size = false): Promise<Docker.ContainerInfo | null> {
    const found = await this.deps.docker.listContainers({ all: true, size, filters: { label: [`${LABEL_ROOT}=${this.deps.root}`, `${LABEL_VOLUME}=${id}`] } });
    if (found.length > 1) throw new FailedPreconditionError(`${found.length} containers claim volume ${id}`, { hint: 'remove the stray ones (`dolly teardown`)' });
    return found[0] ?? null;
  }

  private async readMarker(id: string): Promise<string | null> {
    const text = await readFile(join(this.markers, id), 'utf8').catch(() => null);
    if (text === null) return null;
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && 'image' in parsed && typeof parsed.image === 'string' ? parsed.image : null;
  }

  private async writeMarker(id: string, image: string): Promise<DataMount> {
    if (!(await stat(this.markers).then((s) => s.isDirectory(), () => false))) {
      throw new FailedPreconditionError(`the commit pool of ${this.deps.root} is not open`, { hint: 'open the pool first (`dolly up`)' });
    }
    try {
      await writeFile(join(this.markers, id), JSON.stringify({ image }), { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'EEXIST') throw new AlreadyExistsError(`volume ${id} already exists`);
      throw mapNoSpace(error, `creating volume ${id}`, NO_SPACE_HINT);
    }
    return { kind: 'image', image };
  }
}

function tagOf(id: string): string {
  return `${SNAPSHOT_REPO}:${id}`;
}
