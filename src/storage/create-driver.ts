import { z } from 'zod';
import type { DockerClient } from '../docker/client.js';
import { FailedPreconditionError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Shell } from '../shell.js';
import { BtrfsDriver } from './btrfs-driver.js';
import type { BtrfsPoolConfig } from './btrfs-pool.js';
import { CommitDriver, type CommitPoolConfig } from './commit-driver.js';
import { CopyDriver, type CopyPoolConfig } from './copy-driver.js';
import type { DriverName, StorageDriver } from './driver.js';

export const btrfsPoolConfigSchema = z.object({
  driver: z.literal('btrfs'),
  mountpoint: z.string().min(1),
  image: z.string().min(1).exactOptional(),
  device: z.string().min(1).exactOptional(),
  directory: z.string().min(1).exactOptional(),
  added_devices: z.array(z.string().min(1)).exactOptional(),
});

export const copyPoolConfigSchema = z.object({ driver: z.literal('copy'), directory: z.string().min(1) });

export const commitPoolConfigSchema = z.object({ driver: z.literal('commit'), baseImage: z.string().min(1) });

/** A pool's configuration as stored in the state file, one shape per driver. */
export const poolConfigSchema = z.discriminatedUnion('driver', [btrfsPoolConfigSchema, copyPoolConfigSchema, commitPoolConfigSchema]);

export type PoolConfig = BtrfsPoolConfig | CopyPoolConfig | CommitPoolConfig;

// The schema and the drivers' config types describe the same shapes.
const sameShape: z.ZodType<PoolConfig, PoolConfig> = poolConfigSchema;
void sameShape;

export interface CreateDriverDeps {
  shell: Shell;
  logger: Logger;
  docker: DockerClient;
  /** dolly's root directory (also the dolly.root label value). */
  root: string;
}

/**
 * The storage driver for a pool configuration. The configuration is validated first (it comes
 * from the state file): a malformed one is a FailedPreconditionError.
 */
export function createDriver(config: PoolConfig | { driver: DriverName; [key: string]: unknown }, deps: CreateDriverDeps): StorageDriver {
  const parsed = poolConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new FailedPreconditionError(`the pool configuration in the state file is invalid: ${z.prettifyError(parsed.error).split('\n').join('; ')}`, {
      hint: 'restore the state file from a backup, or start over with `dolly teardown --purge` and `dolly init`',
    });
  }
  const pool = parsed.data;
  switch (pool.driver) {
    case 'btrfs':
      return new BtrfsDriver(pool, { shell: deps.shell, logger: deps.logger });
    case 'copy':
      return new CopyDriver(pool, { shell: deps.shell, logger: deps.logger });
    case 'commit':
      return new CommitDriver(pool, { docker: deps.docker, root: deps.root, logger: deps.logger });
  }
}
