import { mkdtemp, rm } from 'node:fs/promises';
import { createDockerClient } from '../../src/docker/client.js';
import { LABEL_ROOT, labelsFor } from '../../src/labels.js';
import { silentLogger } from '../../src/log.js';
import { CommitDriver } from '../../src/storage/commit-driver.js';
import { MARIADB_IMAGE } from '../support/capabilities.js';
import { driverConformance, type ConformanceHarness, type TestVolume } from '../storage/driver-conformance.js';
import { shell } from '../storage/host.js';

const DATADIR = '/var/lib/mysql';

/**
 * The commit driver with idle containers (`sleep infinity`) standing in for servers: use()
 * creates the volume's container from its mount image, files are read and written with
 * `docker exec`. Everything made carries this run's own root label and is removed by it.
 */
async function setup(): Promise<ConformanceHarness> {
  const docker = createDockerClient();
  const root = await mkdtemp('/tmp/dolly-commit-it-');
  const driver = new CommitDriver({ driver: 'commit', baseImage: MARIADB_IMAGE }, { docker, root, logger: silentLogger });
  const containers = new Map<string, string>();

  const use = async (volume: TestVolume): Promise<string> => {
    const known = containers.get(volume.id);
    if (known !== undefined) return known;
    if (volume.mount.kind !== 'image') throw new Error(`expected an image mount, got ${JSON.stringify(volume.mount)}`);
    const container = await docker.createContainer({
      Image: volume.mount.image,
      Entrypoint: ['sleep'],
      Cmd: ['infinity'],
      Labels: labelsFor(root, 'clone', `test-${volume.id}`, volume.id),
      HostConfig: { NetworkMode: 'none' },
    });
    containers.set(volume.id, container.id);
    await container.start();
    return container.id;
  };

  const cleanup = async (): Promise<void> => {
    const mine = await docker.listContainers({ all: true, filters: { label: [`${LABEL_ROOT}=${root}`] } });
    for (const c of mine) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await driver.destroy().catch(() => undefined);
    const images = await docker.listImages({ all: true, filters: { label: [`${LABEL_ROOT}=${root}`] } });
    for (const image of images.sort((a, b) => b.Created - a.Created)) await docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };

  try {
    await driver.open();
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    driver,
    capabilities: { removeSnapshotWithClones: false, thinClones: true, readOnlySeal: false, limits: false, cloneGroup: false, discards: false },
    use: async (volume) => void (await use(volume)),
    release: async (volume) => {
      const id = containers.get(volume.id);
      if (id === undefined) return;
      await docker.getContainer(id).remove({ force: true });
      containers.delete(volume.id);
    },
    writeFile: async (volume, rel, content) => {
      const id = await use(volume);
      await shell.run('docker', ['exec', '-i', id, 'sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', `${DATADIR}/${rel}`], { input: content });
    },
    readFile: async (volume, rel) => {
      const id = await use(volume);
      const result = await shell.run('docker', ['exec', id, 'cat', `${DATADIR}/${rel}`], { nothrow: true });
      if (result.exitCode === 0) return result.stdout;
      if (result.stderr.includes('No such file')) return null;
      throw new Error(`reading ${rel} in ${volume.id}: ${result.stderr}`);
    },
    cleanup,
  };
}

// The commit driver's pool is Docker's data root, the host's own disk: it is not filled in a test.
driverConformance('commit', ['docker', 'image'], setup, { outOfSpace: false });
