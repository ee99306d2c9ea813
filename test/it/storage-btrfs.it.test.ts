import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { BtrfsDriver } from '../../src/storage/btrfs-driver.js';
import { createBtrfsPool } from '../../src/storage/btrfs-pool.js';
import { driverConformance, type ConformanceHarness, type TestVolume } from '../storage/driver-conformance.js';
import { fillWithEmptyFiles, fillWithZeros, pathOf, readPathFile, scrubDir, shell, writePathFile } from '../storage/host.js';

/** The btrfs driver on its own 256M loop-image pool under a temp root. */
async function setup(): Promise<ConformanceHarness> {
  const root = await mkdtemp('/var/tmp/dolly-btrfs-it-');
  try {
    const deps = { shell, logger: silentLogger };
    const config = await createBtrfsPool({ root, size: '256M' }, deps);
    const driver = new BtrfsDriver(config, deps);
    await driver.open();
    return {
      driver,
      capabilities: { removeSnapshotWithClones: true, thinClones: true, readOnlySeal: true },
      use: async () => {},
      release: async () => {},
      writeFile: writePathFile,
      readFile: readPathFile,
      fill: (volume) => fillBtrfs(config.mountpoint, volume),
      cleanup: async () => {
        await driver.destroy().catch(() => undefined);
        await scrubDir(root);
      },
    };
  } catch (error) {
    await scrubDir(root);
    throw error;
  }
}

/**
 * Fills a btrfs pool so that even a snapshot (metadata only) fails: data with zeros, metadata
 * with empty files, then the last metadata reserve with throwaway snapshots kept outside
 * `volumes/` (so the driver's list() does not see them).
 */
async function fillBtrfs(mountpoint: string, volume: TestVolume): Promise<() => Promise<void>> {
  const dir = join(pathOf(volume.mount), 'fill');
  const filler = join(mountpoint, 'filler');
  await mkdir(dir);
  await mkdir(filler);
  const free = async (): Promise<void> => {
    for (const entry of await readdir(filler)) await shell.run('btrfs', ['subvolume', 'delete', join(filler, entry)], { nothrow: true });
    await rm(filler, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  };
  await fillWithZeros(join(dir, 'zeros'));
  await fillWithEmptyFiles(dir);
  for (let i = 0; i < 5000; i += 1) {
    const result = await shell.run('btrfs', ['subvolume', 'snapshot', pathOf(volume.mount), join(filler, String(i))], { nothrow: true });
    if (result.exitCode !== 0) {
      if (!result.stderr.includes('No space left on device')) throw new Error(`filling the pool: ${result.stderr}`);
      return free;
    }
  }
  await free();
  throw new Error('the pool did not fill up');
}

driverConformance('btrfs', ['root', 'btrfs'], setup);
