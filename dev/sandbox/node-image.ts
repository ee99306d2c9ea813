import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDebianImage, type BuiltImage, type ImageBuildDeps } from '../../src/docker/image-build.js';

/** The image every sandbox node runs: Debian bookworm with Debian's docker.io (dockerd 20.10). */
export const NODE_IMAGE = 'dolly/swarm-node:bookworm-2';

/** What dockerd needs besides docker.io's own dependencies (containerd, runc, tini, iptables). */
const PACKAGES = ['docker.io', 'iptables', 'iproute2', 'procps', 'kmod'];

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
 * image: debootstrap (minbase + docker.io + iptables), an entry point that runs dockerd, `docker
 * import`. Skipped when the image exists (unless `force`). Needs root (debootstrap).
 */
export async function buildNodeImage(options: NodeImageOptions, deps: ImageBuildDeps): Promise<BuiltImage> {
  const { tag, ...build } = options;
  return buildDebianImage(
    {
      tag: tag ?? NODE_IMAGE,
      what: 'docker.io for the sandbox nodes',
      packages: PACKAGES,
      customize: async (rootfs) => {
        for (const path of ['usr/share/locale', 'var/lib/docker']) await rm(join(rootfs, path), { recursive: true, force: true });
        await mkdir(join(rootfs, 'var/lib/docker'), { recursive: true });
        await writeFile(join(rootfs, ENTRYPOINT), ENTRYPOINT_SCRIPT);
        await chmod(join(rootfs, ENTRYPOINT), 0o755);
      },
      changes: [`ENTRYPOINT ["${ENTRYPOINT}"]`, 'CMD ["--storage-driver", "vfs"]', 'VOLUME /var/lib/docker', 'EXPOSE 2375 2377', 'LABEL dolly.image=swarm-node'],
      rootHint: 'run `sudo dolly swarm sandbox up`',
    },
    build,
    deps,
  );
}
