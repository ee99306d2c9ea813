import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDebianImage, type BuiltImage, type ImageBuildDeps } from '../docker/image-build.js';
import { DEFAULT_LOADGEN_IMAGE } from './topology-config.js';

/**
 * Builds the load emulator's image from Debian's packages: debootstrap (minbase + nodejs), the
 * entry point (src/swarm/loadgen-main.ts with mysql2) bundled into one file by esbuild, `docker
 * import`. Skipped when the image exists (unless `force`).
 */
export async function buildLoadgenImage(options: { tag?: string; force?: boolean; workDir?: string }, deps: ImageBuildDeps): Promise<BuiltImage> {
  const { tag, ...build } = options;
  return buildDebianImage(
    {
      tag: tag ?? DEFAULT_LOADGEN_IMAGE,
      what: 'nodejs for the load emulator',
      packages: ['nodejs', 'ca-certificates'],
      customize: async (rootfs) => {
        await mkdir(join(rootfs, 'opt/dolly'), { recursive: true });
        // dist/swarm/loadgen-main.js once built; src/swarm/loadgen-main.ts when run from source (tsx).
        const entry = ['./loadgen-main.js', './loadgen-main.ts'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(p));
        const { build: bundle } = await import('esbuild');
        await bundle({ entryPoints: [entry ?? 'loadgen-main'], bundle: true, platform: 'node', target: 'node18', format: 'cjs', outfile: join(rootfs, 'opt/dolly/loadgen.cjs'), logLevel: 'warning' });
      },
      changes: ['ENTRYPOINT ["node", "/opt/dolly/loadgen.cjs"]', 'LABEL dolly.image=loadgen'],
      rootHint: 'run `sudo dolly images build --loadgen`',
    },
    build,
    deps,
  );
}
