import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { BtrfsDriver } from '../../src/storage/btrfs-driver.js';
import { createBtrfsPool } from '../../src/storage/btrfs-pool.js';
import { driverConformance, type ConformanceHarness } from '../storage/driver-conformance.js';
import { fillWithEmptyFiles, fillWithZeros, readPathFile, scrubDir, shell, writePathFile } from '../storage/host.js';

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
      capabilities: { removeSnapshotWithClones: true, thinClones: true, readOnlySeal: true, limits: true, cloneGroup: existsSync('/sys/fs/btrfs/features/simple_quota'), discards: true },
      deviceHolds: async (text) => (await shell.run('grep', ['-c', '-a', '-F', '-e', text, config.image ?? ''], { nothrow: true })).exitCode === 0,
      use: async () => {},
      release: async () => {},
      writeFile: writePathFile,
      readFile: readPathFile,
      fill: () => fillBtrfs(config.mountpoint),
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
 * with empty files, then the last metadata reserve with snapshots of an empty subvolume. All of
 * it lives in subvolumes under `<mountpoint>/filler`, outside `volumes/` (the driver never sees
 * it), so freeing it is a few subvolume deletes and a wait for the cleaner.
 */
async function fillBtrfs(mountpoint: string): Promise<() => Promise<void>> {
  const filler = join(mountpoint, 'filler');
  await mkdir(filler);
  const free = async (): Promise<void> => {
    for (const entry of await readdir(filler)) await shell.run('btrfs', ['subvolume', 'delete', join(filler, entry)], { nothrow: true });
    await shell.run('btrfs', ['subvolume', 'sync', mountpoint], { nothrow: true });
    await rm(filler, { recursive: true, force: true });
  };
  try {
    for (const name of ['data', 'meta', 'empty']) await shell.run('btrfs', ['subvolume', 'create', join(filler, name)]);
    await fillWithZeros(join(filler, 'data', 'zeros'));
    await fillWithEmptyFiles(join(filler, 'meta'));
    for (let i = 0; i < 5000; i += 1) {
      const result = await shell.run('btrfs', ['subvolume', 'snapshot', join(filler, 'empty'), join(filler, `s${i}`)], { nothrow: true });
      if (result.exitCode === 0) continue;
      if (!result.stderr.includes('No space left on device')) throw new Error(`filling the pool: ${result.stderr}`);
      return free;
    }
    throw new Error('the pool did not fill up');
  } catch (error) {
    await free();
    throw error;
  }
}

driverConformance('btrfs', ['root', 'btrfs'], setup);
