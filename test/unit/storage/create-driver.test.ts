import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDockerClient } from '../../../src/docker/client.js';
import { FailedPreconditionError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { createShell } from '../../../src/shell.js';
import { createDriver, poolConfigSchema } from '../../../src/storage/create-driver.js';

const deps = { shell: createShell(), logger: silentLogger, docker: createDockerClient(), root: '/var/lib/dolly' };

describe('createDriver', () => {
  it('makes the driver each pool configuration names', () => {
    const btrfs = createDriver({ driver: 'btrfs', mountpoint: '/r/pool', image: '/r/pool.img' }, deps);
    const copy = createDriver({ driver: 'copy', directory: '/r/pool' }, deps);
    const commit = createDriver({ driver: 'commit', baseImage: 'dolly/mariadb:10.11' }, deps);
    assert.deepEqual(
      [btrfs, copy, commit].map((d) => [d.name, d.atomic]),
      [
        ['btrfs', true],
        ['copy', false],
        ['commit', true],
      ],
    );
  });

  it('refuses a malformed configuration from the state file', () => {
    assert.throws(() => createDriver({ driver: 'btrfs' }, deps), FailedPreconditionError);
    assert.throws(() => createDriver({ driver: 'copy', directory: 7 }, deps), FailedPreconditionError);
    assert.throws(() => createDriver({ driver: 'zfs' } as unknown as { driver: 'btrfs' }, deps), FailedPreconditionError);
  });

  it('the schema round-trips every shape through JSON and drops unknown keys', () => {
    for (const config of [
      { driver: 'btrfs', mountpoint: '/r/pool', device: '/dev/sdb' },
      { driver: 'btrfs', mountpoint: '/srv/b', directory: '/srv/b' },
      { driver: 'copy', directory: '/r/pool' },
      { driver: 'commit', baseImage: 'x:1' },
    ]) {
      assert.deepEqual(poolConfigSchema.parse(JSON.parse(JSON.stringify(config))), config);
    }
    assert.deepEqual(poolConfigSchema.parse({ driver: 'copy', directory: '/d', extra: 1 }), { driver: 'copy', directory: '/d' });
    assert.equal(poolConfigSchema.safeParse({ driver: 'btrfs', mountpoint: '/m', image: undefined }).success, false);
  });
});
