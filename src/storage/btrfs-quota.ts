import { readFile } from 'node:fs/promises';
import { InternalError } from '../errors.js';
import type { Shell } from '../shell.js';

/** The level-1 qgroup that holds every clone of a dolly pool (its cap keeps the reserve free). */
export const CLONE_GROUP = '1/100';

/**
 * btrfs quota modes: `simple` (squota, kernel 6.7+) charges each extent to the subvolume that
 * wrote it and is never inconsistent; `full` (the classic qgroups) must rescan the whole pool
 * when a subvolume joins a group while sharing extents with one outside it, and counts nothing
 * while it waits for that rescan.
 */
export type QuotaMode = 'simple' | 'full';

// BTRFS_IOC_QUOTA_CTL = _IOWR(0x94, 40, struct { u64 cmd; u64 status; }), cmd 4 = enable simple quotas.
// btrfs-progs before 6.7 has no `quota enable --simple`; perl is essential on Debian.
const ENABLE_SIMPLE = 'open(my $f, "<", $ARGV[0]) or die "$!\\n"; my $a = pack("QQ", 4, 0); ioctl($f, 0xC0109428, $a) or die "$!\\n";';

/**
 * Turns quotas on when they are off: simple quotas where the kernel has them, else full ones.
 * Returns the pool's mode. A pool whose quotas are already on keeps its mode.
 */
export async function ensureQuotas(mountpoint: string, shell: Shell): Promise<QuotaMode> {
  const on = (await shell.run('btrfs', ['qgroup', 'show', mountpoint], { nothrow: true })).exitCode === 0;
  if (!on) {
    const simple = await shell.run('perl', ['-e', ENABLE_SIMPLE, mountpoint], { nothrow: true });
    if (simple.exitCode === 0) return 'simple';
    await shell.run('btrfs', ['quota', 'enable', mountpoint]);
    return 'full';
  }
  return quotaMode(mountpoint, shell);
}

/** The mode of a pool whose quotas are on (sysfs `qgroups/mode`; kernels without it have only full quotas). */
export async function quotaMode(mountpoint: string, shell: Shell): Promise<QuotaMode> {
  const shown = await shell.run('btrfs', ['filesystem', 'show', mountpoint], { nothrow: true });
  const uuid = /uuid: ([0-9a-f-]{36})/.exec(shown.stdout)?.[1];
  if (uuid === undefined) return 'full';
  const mode = await readFile(`/sys/fs/btrfs/${uuid}/qgroups/mode`, 'utf8').catch(() => 'qgroup');
  return mode.trim() === 'squota' ? 'simple' : 'full';
}

/** The exclusive bytes of a qgroup, or null when it does not exist. */
export async function qgroupExclusive(mountpoint: string, qgroup: string, shell: Shell): Promise<number | null> {
  const { stdout } = await shell.run('btrfs', ['qgroup', 'show', '--raw', mountpoint]);
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== qgroup) continue;
    const exclusive = Number(fields[2]);
    if (!Number.isSafeInteger(exclusive)) throw new InternalError(`unexpected output of btrfs qgroup show: ${line.trim()}`);
    return exclusive;
  }
  return null;
}
