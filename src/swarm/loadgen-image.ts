import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PermissionDeniedError } from '../errors.js';
import { hostMirror, imageExists, importRootfs, type ImageBuildDeps } from '../docker/image-build.js';
import { DEFAULT_LOADGEN_IMAGE } from './topology-config.js';

/** Paths removed from the root file system before import: caches and docs. */
const PRUNE = ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info'];

/**
 * Builds the load emulator's image from Debian's packages: debootstrap (minbase + nodejs), the
 * entry point (src/swarm/loadgen-main.ts with mysql2) bundled into one file by esbuild, `docker
 * import`. Skipped when the image exists (unless `force`).
 */
export async function buildLoadgenImage(options: { tag?: string; force?: boolean; workDir?: string }, deps: ImageBuildDeps): Promise<{ tag: string; built: boolean; seconds: number }> {
  const tag = options.tag ?? DEFAULT_LOADGEN_IMAGE;
  const started = Date.now();
  if (!options.force && (await imageExists(deps.docker, tag))) return { tag, built: false, seconds: 0 };
  if (process.getuid?.() !== 0) throw new PermissionDeniedError('building the image needs root (debootstrap)', { hint: 'run `sudo dolly images build --loadgen`' });
  const work = await mkdtemp(join(options.workDir ?? '/var/tmp', 'dolly-loadgen-'));
  const rootfs = join(work, 'rootfs');
  try {
    deps.logger.info('debootstrap: Debian bookworm with nodejs (about 2 minutes)');
    await deps.shell.run('debootstrap', ['--variant=minbase', '--include=nodejs,ca-certificates', 'bookworm', rootfs, await hostMirror()]);
    for (const path of PRUNE) await rm(join(rootfs, path), { recursive: true, force: true });
    await mkdir(join(rootfs, 'opt/dolly'), { recursive: true });
    const { build } = await import('esbuild');
    // dist/swarm/loadgen-main.js once built; src/swarm/loadgen-main.ts when run from source (tsx).
    const entry = ['./loadgen-main.js', './loadgen-main.ts'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(p));
    await build({
      entryPoints: [entry ?? 'loadgen-main'],
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      outfile: join(rootfs, 'opt/dolly/loadgen.cjs'),
      logLevel: 'warning',
    });
    await importRootfs(deps.docker, rootfs, tag, ['ENTRYPOINT ["node", "/opt/dolly/loadgen.cjs"]', 'LABEL dolly.image=loadgen']);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { tag, built: true, seconds: (Date.now() - started) / 1000 };
}
