import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DockerClient } from '../../src/docker/client.js';
import { imageExists } from '../../src/docker/image-build.js';
import { InternalError } from '../../src/errors.js';
import { secondsSince } from '../../src/elapsed.js';

/** How long copying the host's images into the nodes took. */
export interface ImageLoadReport {
  readonly images: readonly string[];
  /** Size of the `docker save` archive. */
  readonly bytes: number;
  /** `docker save` on the host engine into a temporary file. */
  readonly saveSeconds: number;
  /** `docker load` per node (the nodes load at the same time). */
  readonly nodes: Readonly<Record<string, number>>;
  readonly totalSeconds: number;
}

/**
 * Copies images from the host engine into every node engine: one `docker save` of all of them
 * into a temporary file under `workDir`, then `docker load` of that file into each node, in
 * parallel. No registry is involved. The file is removed whatever happens.
 */
export async function loadImages(
  host: DockerClient,
  images: readonly string[],
  nodes: readonly { hostname: string; engine: DockerClient }[],
  workDir = '/var/tmp',
): Promise<ImageLoadReport> {
  const started = Date.now();
  const work = await mkdtemp(join(workDir, 'dolly-sandbox-images-'));
  const archive = join(work, 'images.tar');
  try {
    await pipeline(await saveImages(host, images), createWriteStream(archive));
    const { size } = await stat(archive);
    const saveSeconds = secondsSince(started);
    const perNode = await Promise.all(nodes.map(async (node) => [node.hostname, await loadInto(node.engine, node.hostname, archive, images)] as const));
    return { images, bytes: size, saveSeconds, nodes: Object.fromEntries(perNode), totalSeconds: secondsSince(started) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** GET /images/get?names=…: dockerode has `getImages` (one archive, shared layers once); its types lack it. */
async function saveImages(host: DockerClient, images: readonly string[]): Promise<NodeJS.ReadableStream> {
  const withSave = host as DockerClient & { getImages?: (options: { names: string[] }) => Promise<NodeJS.ReadableStream> };
  if (typeof withSave.getImages !== 'function') throw new InternalError('this dockerode has no getImages');
  return withSave.getImages({ names: [...images] });
}

async function loadInto(engine: DockerClient, hostname: string, archive: string, images: readonly string[]): Promise<number> {
  const started = Date.now();
  const stream = await engine.loadImage(createReadStream(archive), { quiet: true });
  await new Promise<void>((resolve, reject) => engine.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
  for (const image of images) {
    if (!(await imageExists(engine, image))) throw new InternalError(`image ${image} missing on ${hostname} after docker load`);
  }
  return secondsSince(started);
}
