import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageExists, type ImageBuildDeps } from '../../docker/image-build.js';
import { PermissionDeniedError } from '../../errors.js';
import { hostMirror, importRootfs } from '../../docker/image-build.js';

/** The image every sandbox node runs: Debian bookworm with Debian's docker.io (dockerd 20.10). */
export const NODE_IMAGE = 'dolly/swarm-node:bookworm-2';

/** What dockerd needs besides docker.io's own dependencies (containerd, runc, tini, iptables). */
const PACKAGES = ['docker.io', 'iptables', 'iproute2', 'procps', 'kmod'];

/** Removed before import: apt caches, docs, man pages, translations. */
const PRUNE = ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/lib/docker'];

/** Where the entry point lives inside the image. */
const ENTRYPOINT = '/usr/local/bin/dolly-swarm-node';

/**
 * The node's entry point. A container that is not `--privileged` gets /proc/sys and the cgroup
 * hierarchies mounted read-only; with CAP_SYS_ADMIN (and no AppArmor/seccomp) it may remount them
 * read-write (`remount,bind`: only this mount, not the file system), which the nested engine
 * needs to make cgroups and set its bridges' sysctls. Then dockerd, with the container's arguments.
 */
const ENTRYPOINT_SCRIPT = `#!/bin/sh
set -e
for dir in /sys /proc/sys /sys/fs/cgroup /sys/fs/cgroup/*; do
  if mountpoint -q "$dir"; then mount -o remount,bind,rw "$dir" 2>/dev/null || echo "dolly-swarm-node: $dir stays read-only" >&2; fi
done
# No tmpfs over /tmp: it would hide a pool path bind-mounted below it (e.g. a root under /tmp).
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec dockerd "$@"
`;

export interface NodeImageOptions {
  tag?: string;
  /** Debian mirror; read from the host's apt sources when absent. */
  mirror?: string;
  /** Where the temporary root file system is made (default /var/tmp). */
  workDir?: string;
  /** Rebuild even when the image exists. */
  force?: boolean;
}

/**
 * Builds the sandbox node image from Debian's packages, the way `buildImage` builds the MariaDB
 * image: debootstrap (minbase + docker.io + iptables), prune, an entry point that runs dockerd,
 * `docker import`. Skipped when the image exists (unless `force`). Needs root (debootstrap).
 */
export async function buildNodeImage(options: NodeImageOptions, deps: ImageBuildDeps): Promise<{ tag: string; built: boolean; seconds: number }> {
  const tag = options.tag ?? NODE_IMAGE;
  const started = Date.now();
  if (!options.force && (await imageExists(deps.docker, tag))) {
    deps.logger.debug('sandbox node image already present', { image: tag });
    return { tag, built: false, seconds: 0 };
  }
  if (process.getuid?.() !== 0) {
    throw new PermissionDeniedError(`building the image ${tag} needs root (debootstrap)`, { hint: 'run `sudo dolly swarm sandbox up`' });
  }
  const mirror = options.mirror ?? (await hostMirror());
  const work = await mkdtemp(join(options.workDir ?? '/var/tmp', 'dolly-node-image-'));
  const rootfs = join(work, 'rootfs');
  try {
    deps.logger.info('debootstrap: Debian bookworm with docker.io for the sandbox nodes (a few minutes, once)', { mirror });
    await deps.shell.run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', rootfs, mirror]);
    for (const path of PRUNE) await rm(join(rootfs, path), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/lib/docker'), { recursive: true });
    await writeFile(join(rootfs, ENTRYPOINT), ENTRYPOINT_SCRIPT);
    await chmod(join(rootfs, ENTRYPOINT), 0o755);
    deps.logger.info('importing the node root file system', { image: tag });
    await importRootfs(deps.docker, rootfs, tag, [
      `ENTRYPOINT ["${ENTRYPOINT}"]`,
      'CMD ["--storage-driver", "vfs"]',
      'VOLUME /var/lib/docker',
      'EXPOSE 2375 2377',
      'LABEL dolly.image=swarm-node',
    ]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const seconds = (Date.now() - started) / 1000;
  deps.logger.info('sandbox node image built', { image: tag, seconds });
  return { tag, built: true, seconds };
}
