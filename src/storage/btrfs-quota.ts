import { readFile, stat } from 'node:fs/promises';
import { CommandFailedError, InternalError } from '../errors.js';
import type { Shell, ShellResult } from '../shell.js';

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
  if (!(await quotasOn(mountpoint, shell))) {
    const simple = await shell.run('perl', ['-e', ENABLE_SIMPLE, mountpoint], { nothrow: true });
    if (simple.exitCode === 0) return 'simple';
    await shell.run('btrfs', ['quota', 'enable', mountpoint]);
    return 'full';
  }
  return quotaMode(mountpoint, shell);
}

/** The mode of a pool whose quotas are on (sysfs `qgroups/mode`; kernels without it have only full quotas). */
export async function quotaMode(mountpoint: string, shell: Shell): Promise<QuotaMode> {
  const dir = await sysfsDir(mountpoint, shell);
  if (dir === null) return 'full';
  const mode = await readFile(`${dir}/qgroups/mode`, 'utf8').catch(() => 'qgroup');
  return mode.trim() === 'squota' ? 'simple' : 'full';
}

/** Whether the pool's quotas are on. */
export async function quotasOn(mountpoint: string, shell: Shell): Promise<boolean> {
  const dir = await sysfsDir(mountpoint, shell);
  // Kernels since 5.9 list the qgroups in sysfs exactly while quotas are on.
  if (dir !== null && (await isDirectory(`${dir}/qgroups`))) return true;
  return (await qgroupShow(mountpoint, [], shell)).exitCode === 0;
}

/**
 * The exclusive bytes of a qgroup, or null when it does not exist. Read from sysfs where the
 * kernel lists qgroups there: `btrfs qgroup show` (btrfs-progs 6.x) resolves every subvolume's
 * path and fails with ENOENT when one is made or removed meanwhile, as happens when clones are
 * created at once.
 */
export async function qgroupExclusive(mountpoint: string, qgroup: string, shell: Shell): Promise<number | null> {
  const dir = await sysfsDir(mountpoint, shell);
  if (dir !== null && (await isDirectory(`${dir}/qgroups`))) {
    const text = await readFile(`${dir}/qgroups/${qgroup.replace('/', '_')}/exclusive`, 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    });
    if (text === null) return null;
    const exclusive = Number(text.trim());
    if (!Number.isSafeInteger(exclusive)) throw new InternalError(`unexpected content of the sysfs qgroup ${qgroup}: ${text.trim()}`);
    return exclusive;
  }
  const shown = await qgroupShow(mountpoint, ['--raw'], shell);
  if (shown.exitCode !== 0) throw new CommandFailedError('btrfs qgroup show', shown.exitCode, shown.stderr);
  for (const line of shown.stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== qgroup) continue;
    const exclusive = Number(fields[2]);
    if (!Number.isSafeInteger(exclusive)) throw new InternalError(`unexpected output of btrfs qgroup show: ${line.trim()}`);
    return exclusive;
  }
  return null;
}

/** `btrfs qgroup show`, tried again when a subvolume vanished under its path lookup (a race, not an answer). */
async function qgroupShow(mountpoint: string, args: string[], shell: Shell): Promise<ShellResult> {
  for (let attempt = 1; ; attempt++) {
    const shown = await shell.run('btrfs', ['qgroup', 'show', ...args, mountpoint], { nothrow: true });
    if (shown.exitCode === 0 || !/No such file or directory/.test(shown.stderr) || attempt === 5) return shown;
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
  }
}

/** `/sys/fs/btrfs/<uuid>` of the pool, or null where it is not found. */
async function sysfsDir(mountpoint: string, shell: Shell): Promise<string | null> {
  const shown = await shell.run('btrfs', ['filesystem', 'show', mountpoint], { nothrow: true });
  const uuid = /uuid: ([0-9a-f-]{36})/.exec(shown.stdout)?.[1];
  if (uuid === undefined) return null;
  const dir = `/sys/fs/btrfs/${uuid}`;
  return (await isDirectory(dir)) ? dir : null;
}

function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
