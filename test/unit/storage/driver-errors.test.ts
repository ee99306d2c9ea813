import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { DockerClient } from '../../../src/docker/client.js';
import { CommandFailedError, InvalidArgumentError, ResourceExhaustedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { CommitDriver } from '../../../src/storage/commit-driver.js';
import { assertVolumeId, isNoSpace, mapNoSpace } from '../../../src/storage/driver-errors.js';

const dockerError = (statusCode: number, message: string): Error => Object.assign(new Error(message), { statusCode });

describe('storage error mapping', () => {
  it('recognises "no space left" from Node, commands and the Docker engine', () => {
    assert.ok(isNoSpace(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })));
    assert.ok(isNoSpace(new CommandFailedError('btrfs subvolume', 1, "ERROR: cannot snapshot '/p/a': No space left on device\n")));
    assert.ok(isNoSpace(new Error('wrapped', { cause: dockerError(500, '(HTTP code 500) server error - write /x: no space left on device') })));
    assert.equal(isNoSpace(new CommandFailedError('btrfs', 1, 'ERROR: not a subvolume')), false);
    assert.ok(mapNoSpace(new CommandFailedError('cp', 1, 'cp: No space left on device'), 'cloning s', 'grow it') instanceof ResourceExhaustedError);
    const other = new Error('other');
    assert.equal(mapNoSpace(other, 'x', 'y'), other);
  });

  it('assertVolumeId accepts ids and refuses what could escape a path', () => {
    for (const id of ['replica', 'snap-20240101.1', 'A_b-c.d']) assertVolumeId(id);
    for (const id of ['', '../x', 'a/b', 'a b', '.x', 'a..b', 'x'.repeat(101)]) assert.throws(() => assertVolumeId(id), InvalidArgumentError);
  });

  it('the commit driver maps an engine out of space during commit to ResourceExhaustedError', async () => {
    const root = await mkdtemp('/tmp/dolly-unit-commit-');
    const notFound = async (): Promise<never> => {
      throw dockerError(404, 'no such image');
    };
    const fake = {
      getImage: () => ({ inspect: notFound }),
      listContainers: async (opts: { filters: { label: string[] } }) =>
        opts.filters.label.includes('dolly.volume=src') ? [{ Id: 'c1', Names: ['/replica'], Image: 'base', Labels: {} }] : [],
      getContainer: () => ({
        commit: async () => {
          throw dockerError(500, '(HTTP code 500) server error - write /var/lib/docker/overlay2/x: no space left on device');
        },
      }),
    };
    try {
      const driver = new CommitDriver({ driver: 'commit', baseImage: 'base' }, { docker: fake as unknown as DockerClient, root, logger: silentLogger });
      await assert.rejects(driver.snapshot('src', 'snap'), ResourceExhaustedError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
