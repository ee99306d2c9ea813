import assert from 'node:assert/strict';
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CommandFailedError, FailedPreconditionError, InvalidArgumentError, NotFoundError, AlreadyExistsError, PermissionDeniedError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { Shell } from '../../src/shell.js';
import { BtrfsDriver } from '../../src/storage/btrfs-driver.js';
import { createBtrfsPool, isMountPoint, loopDevicesOf } from '../../src/storage/btrfs-pool.js';
import { requires } from '../support/capabilities.js';
import { loopsUnder, mountLoopImage, readPathFile, scrubDir, shell, writePathFile } from '../storage/host.js';

const deps = { shell, logger: silentLogger };
const roots: string[] = [];
const devices: string[] = [];

async function tempRoot(): Promise<string> {
  const root = await mkdtemp('/var/tmp/dolly-pool-it-');
  roots.push(root);
  return root;
}

/** A shell that runs everything for real but fails `command` (after running it, with `afterRun`). */
function failing(command: string, afterRun = false): Shell {
  return {
    async run(cmd, args, options) {
      if (cmd !== command) return shell.run(cmd, args, options);
      if (afterRun) await shell.run(cmd, args, options);
      throw new CommandFailedError(cmd, 1, `${cmd}: simulated failure`);
    },
  };
}

describe('btrfs pool', () => {
  after(async () => {
    for (const root of roots) await scrubDir(root, devices);
  });

  it('a loop-image pool: create, close, open again with the data, destroy without a trace', async (t) => {
    if (!requires(t, 'root', 'btrfs')) return;
    const root = await tempRoot();
    const config = await createBtrfsPool({ root, size: '256M' }, deps);
    const image = join(root, 'pool.img');
    assert.deepEqual(config, { driver: 'btrfs', mountpoint: join(root, 'pool'), image });
    assert.ok(await isMountPoint(config.mountpoint));
    assert.equal((await loopDevicesOf(image, shell)).length, 1);
    assert.ok((await stat(image)).blocks * 512 < 64 * 1024 ** 2, 'the image is sparse');

    const driver = new BtrfsDriver(config, deps);
    await driver.open();
    const mount = await driver.createVolume('kept');
    await writePathFile({ id: 'kept', mount }, 'f', 'survives');
    await driver.close();
    await driver.close();
    assert.equal(await isMountPoint(config.mountpoint), false);
    assert.deepEqual(await loopDevicesOf(image, shell), []);
    await assert.rejects(driver.list(), FailedPreconditionError);

    await driver.open();
    assert.deepEqual(await driver.list(), ['kept']);
    assert.equal(await readPathFile({ id: 'kept', mount }, 'f'), 'survives');

    await driver.destroy();
    assert.equal(await isMountPoint(config.mountpoint), false);
    assert.deepEqual(await loopsUnder(root), []);
    assert.deepEqual(await readdir(root), []);
  });

  it('bad sizes and option mixes are refused and make nothing', async () => {
    const root = await tempRoot();
    for (const size of ['', '20X', '-1G', '1.5G', 'G', '20 G', '64M', '99999999999999T']) {
      await assert.rejects(createBtrfsPool({ root, size }, deps), InvalidArgumentError, `size ${JSON.stringify(size)}`);
    }
    await assert.rejects(createBtrfsPool({ root, device: '/dev/null', directory: root }, deps), InvalidArgumentError);
    await assert.rejects(createBtrfsPool({ root, size: '1G', directory: root }, deps), InvalidArgumentError);
    assert.deepEqual(await readdir(root), []);
  });

  it('needs root for an image or a device, and makes nothing without it', async () => {
    const root = await tempRoot();
    const user = { ...deps, getuid: () => 1000 };
    await assert.rejects(createBtrfsPool({ root, size: '1G' }, user), PermissionDeniedError);
    await assert.rejects(createBtrfsPool({ root, device: '/dev/loop0' }, user), PermissionDeniedError);
    assert.deepEqual(await readdir(root), []);
  });

  it('undoes everything when mkfs or mount fails', async (t) => {
    if (!requires(t, 'root', 'btrfs')) return;
    for (const shellThatFails of [failing('mkfs.btrfs'), failing('mount'), failing('mount', true)]) {
      const root = await tempRoot();
      await assert.rejects(createBtrfsPool({ root, size: '256M' }, { shell: shellThatFails, logger: silentLogger }), CommandFailedError);
      assert.equal(await isMountPoint(join(root, 'pool')), false);
      assert.deepEqual(await loopsUnder(root), []);
      assert.deepEqual(await readdir(root), []);
    }
  });

  it('uses an already-mounted btrfs directory in place and never unmounts it', async (t) => {
    if (!requires(t, 'root', 'btrfs')) return;
    const root = await tempRoot();
    const own = join(root, 'own');
    await mountLoopImage(join(root, 'own.img'), '256M', ['mkfs.btrfs', '-q'], own);
    await assert.rejects(createBtrfsPool({ root: join(root, 'd'), directory: root }, deps), InvalidArgumentError);
    await assert.rejects(createBtrfsPool({ root: join(root, 'd'), directory: join(root, 'missing') }, deps), NotFoundError);

    const config = await createBtrfsPool({ root: join(root, 'd'), directory: own }, { ...deps, getuid: () => 1000 });
    assert.deepEqual(config, { driver: 'btrfs', mountpoint: own, directory: own });
    await assert.rejects(createBtrfsPool({ root: join(root, 'e'), directory: own }, deps), AlreadyExistsError);
    const driver = new BtrfsDriver(config, deps);
    await driver.open();
    await driver.createVolume('v');
    await driver.close();
    assert.ok(await isMountPoint(own), 'close() leaves a directory pool mounted');
    assert.deepEqual(await driver.list(), ['v']);
    await driver.destroy();
    assert.ok(await isMountPoint(own), 'destroy() leaves a directory pool mounted');
    assert.deepEqual(await readdir(own), []);
  });

  it('formats a blank device, reuses a btrfs one, refuses one that holds anything else', async (t) => {
    if (!requires(t, 'root', 'btrfs')) return;
    const root = await tempRoot();
    const attach = async (name: string): Promise<string> => {
      const image = join(root, name);
      await shell.run('truncate', ['-s', '256M', image]);
      const device = (await shell.run('losetup', ['-f', '--show', image])).stdout.trim();
      devices.push(device);
      return device;
    };
    const blank = await attach('blank.img');
    const first = await createBtrfsPool({ root: join(root, 'r1'), device: blank }, deps);
    assert.deepEqual(first, { driver: 'btrfs', mountpoint: join(root, 'r1', 'pool'), device: blank });
    assert.ok(await isMountPoint(first.mountpoint));
    await writeFile(join(first.mountpoint, 'marker'), 'not reformatted');
    await new BtrfsDriver(first, deps).destroy();
    assert.equal(await isMountPoint(first.mountpoint), false);
    assert.deepEqual(await readdir(join(root, 'r1')), []);

    const second = await createBtrfsPool({ root: join(root, 'r2'), device: blank }, deps);
    assert.equal(await readPathFile({ id: '', mount: { kind: 'path', path: second.mountpoint } }, 'marker'), 'not reformatted');
    await new BtrfsDriver(second, deps).destroy();

    const ext4 = await attach('ext4.img');
    await shell.run('mkfs.ext4', ['-q', ext4]);
    await assert.rejects(createBtrfsPool({ root: join(root, 'r3'), device: ext4 }, deps), FailedPreconditionError);
    await assert.rejects(createBtrfsPool({ root: join(root, 'r4'), device: join(root, 'ext4.img') }, deps), InvalidArgumentError);
    assert.deepEqual(await readdir(join(root, 'r3')), []);
    assert.equal((await shell.run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', ext4])).stdout.trim(), 'ext4');
  });
});
