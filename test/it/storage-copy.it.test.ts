import { mkdtemp, readdir, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { CopyDriver } from '../../src/storage/copy-driver.js';
import { driverConformance, type ConformanceHarness } from '../storage/driver-conformance.js';
import { fillWithZeros, mountLoopImage, readPathFile, scrubDir, shell, writePathFile } from '../storage/host.js';

/** The copy driver on a small ext4 file system of its own (a loop image), so it can be filled. */
async function setup(): Promise<ConformanceHarness> {
  const root = await mkdtemp('/var/tmp/dolly-copy-it-');
  try {
    const fs = join(root, 'fs');
    await mountLoopImage(join(root, 'fs.img'), '256M', ['mkfs.ext4', '-q', '-F', '-m', '0'], fs);
    const directory = join(fs, 'pool');
    const driver = new CopyDriver({ driver: 'copy', directory }, { shell, logger: silentLogger });
    await driver.open();
    return {
      driver,
      capabilities: { removeSnapshotWithClones: true, thinClones: false, readOnlySeal: false, limits: false, cloneGroup: false, discards: false },
      use: async () => {},
      release: async () => {},
      writeFile: writePathFile,
      readFile: readPathFile,
      fill: async () => {
        // Leave 2 MiB: a copy of the 4 MiB test file then fails half-way, leaving a partial copy to undo.
        const filler = join(fs, 'filler');
        await truncate(filler, (await fillWithZeros(filler)) - 2 * 1024 * 1024);
        return () => rm(filler, { force: true });
      },
      strays: () => readdir(join(directory, 'partial')),
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

driverConformance('copy', ['root'], setup);
