import { spawn } from 'node:child_process';
import { appendFile, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDockerNotFound, type DockerClient } from './client.js';
import { CommandFailedError, FailedPreconditionError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { SERVER_UID } from './server-user.js';
import type { Logger } from '../log.js';
import type { Shell } from '../shell.js';

/** The image dolly builds locally when no registry is reachable. */
export const DEFAULT_IMAGE = 'dolly/mariadb:10.11';

export interface ImageBuildDeps {
  docker: DockerClient;
  shell: Shell;
  logger: Logger;
}

export interface ImageBuildOptions {
  tag?: string;
  /** Debian mirror; read from the host's apt sources when absent. */
  mirror?: string;
  /** Where the temporary root file system is made (default /var/tmp). */
  workDir?: string;
  /** Rebuild even when the image exists. */
  force?: boolean;
}

/** Paths removed from every root file system before import: apt caches and docs. */
const PRUNE = ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info'];

export async function imageExists(docker: DockerClient, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (error) {
    if (isDockerNotFound(error)) return false;
    throw error;
  }
}

/** An image made from Debian's packages: what to install, what to do to the root file system, how to import it. */
export interface DebianImageRecipe {
  tag: string;
  /** For logs: what the image is ("mariadb-server", "docker.io for the sandbox nodes", ...). */
  what: string;
  packages: readonly string[];
  /** Work on the root file system after debootstrap and pruning, before import. */
  customize(rootfs: string): Promise<void>;
  /** Dockerfile-style changes for `docker import` (CMD, ENTRYPOINT, LABEL ...). */
  changes: readonly string[];
  /** What to tell a user who is not root. */
  rootHint: string;
  /** Bumped when the recipe changes what dolly relies on: an image of another revision is rebuilt. */
  revision?: number;
  /** The Debian suite to bootstrap (default bookworm, the host's). */
  suite?: 'bookworm' | 'trixie' | 'sid';
}

/** The label that records a recipe's revision on its image. */
export const LABEL_RECIPE = 'dolly.recipe';

/** The server images' revision: 2 = servers run as the unprivileged SERVER_UID (3 for MariaDB 10.11: with mariadb-backup). */
export const MARIADB_RECIPE_REVISION = 2;

export interface BuiltImage {
  tag: string;
  built: boolean;
  seconds: number;
}

/**
 * Builds an image from Debian's packages: debootstrap bookworm (minbase + the recipe's packages)
 * from the host's mirror, prune caches and docs, the recipe's own step, `docker import`. Skipped
 * when the image exists (unless `force`). Needs root (debootstrap); the work directory is always removed.
 */
export async function buildDebianImage(recipe: DebianImageRecipe, options: Omit<ImageBuildOptions, 'tag'>, deps: ImageBuildDeps): Promise<BuiltImage> {
  const started = Date.now();
  if (!options.force && (await imageExists(deps.docker, recipe.tag)) && (recipe.revision === undefined || (await imageRevision(deps.docker, recipe.tag)) === recipe.revision)) {
    deps.logger.debug('image already present, nothing to build', { image: recipe.tag });
    return { tag: recipe.tag, built: false, seconds: 0 };
  }
  if (process.getuid?.() !== 0) throw new PermissionDeniedError(`building the image ${recipe.tag} needs root (debootstrap)`, { hint: recipe.rootHint });
  const mirror = options.mirror ?? (await hostMirror());
  const work = await mkdtemp(join(options.workDir ?? '/var/tmp', 'dolly-image-'));
  const rootfs = join(work, 'rootfs');
  try {
    const suite = recipe.suite ?? 'bookworm';
    deps.logger.info(`debootstrap: Debian ${suite} with ${recipe.what} (about 2 minutes, once)`, { image: recipe.tag, mirror });
    await deps.shell.run('debootstrap', ['--variant=minbase', `--include=${recipe.packages.join(',')}`, suite, rootfs, mirror]);
    for (const path of PRUNE) await rm(join(rootfs, path), { recursive: true, force: true });
    await recipe.customize(rootfs);
    await importRootfs(deps.docker, rootfs, recipe.tag, [...recipe.changes, ...(recipe.revision === undefined ? [] : [`LABEL ${LABEL_RECIPE}=${recipe.revision}`])]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const seconds = (Date.now() - started) / 1000;
  deps.logger.info('image built', { image: recipe.tag, seconds });
  return { tag: recipe.tag, built: true, seconds };
}

/** A server engine dolly builds from Debian's packages: which suite has it, and how it is named. */
export interface EngineImage {
  /** `dolly images build --engine NAME`. */
  name: string;
  tag: string;
  suite: 'bookworm' | 'trixie' | 'sid';
  flavor: 'mariadb' | 'mysql';
  /** major.minor, recorded on the image (`dolly.version`): a replica is never older than its source. */
  version: string;
  packages: readonly string[];
  /** The recipe's revision (label `dolly.recipe`): an image of an older one is rebuilt. */
  revision: number;
}

/** The engines proven here: MariaDB 10.11 (bookworm), MariaDB 11.8 (trixie), MySQL 9.7 (sid). */
export const ENGINES: readonly EngineImage[] = [
  { name: 'mariadb-10.11', tag: DEFAULT_IMAGE, suite: 'bookworm', flavor: 'mariadb', version: '10.11', packages: ['mariadb-server', 'mariadb-client', 'mariadb-backup'], revision: 3 },
  { name: 'mariadb-11.8', tag: 'dolly/mariadb:11.8', suite: 'trixie', flavor: 'mariadb', version: '11.8', packages: ['mariadb-server', 'mariadb-client', 'mariadb-backup'], revision: MARIADB_RECIPE_REVISION },
  { name: 'mysql-9.7', tag: 'dolly/mysql:9.7', suite: 'sid', flavor: 'mysql', version: '9.7', packages: ['mysql-server', 'mysql-client'], revision: MARIADB_RECIPE_REVISION },
];

/** The server images `dolly images build` can make, of one flavor or of all, oldest version first. */
export function buildableEngines(flavor?: EngineImage['flavor']): EngineImage[] {
  const version = (e: EngineImage): number[] => e.version.split('.').map(Number);
  return ENGINES.filter((e) => flavor === undefined || e.flavor === flavor).sort((a, b) => {
    const [x = 0, y = 0] = version(a);
    const [u = 0, v = 0] = version(b);
    return x !== u ? x - u : y - v;
  });
}

/** The engine of a name (`mariadb-11.8`) or of a tag (`dolly/mariadb:11.8`). */
export function findEngine(nameOrTag: string): EngineImage | undefined {
  return ENGINES.find((e) => e.name === nameOrTag || e.tag === nameOrTag);
}

/** A server image: the engine's packages, an empty datadir, /run/dolly, the unprivileged server user. */
export async function buildImage(options: ImageBuildOptions & { engine?: EngineImage }, deps: ImageBuildDeps): Promise<BuiltImage> {
  const engine = options.engine ?? ENGINES[0];
  if (!engine) throw new NotFoundError('no engine to build');
  return buildDebianImage(
    {
      tag: options.tag ?? engine.tag,
      what: engine.packages[0] ?? 'a server',
      packages: engine.packages,
      suite: engine.suite,
      customize: async (rootfs) => {
        // The package's own datadir goes: dolly initialises each replica's datadir itself.
        await rm(join(rootfs, 'var/lib/mysql'), { recursive: true, force: true });
        // Servers run as SERVER_UID, named in the image so tools that look the user up find it.
        await appendFile(join(rootfs, 'etc/passwd'), `dolly:x:${SERVER_UID}:${SERVER_UID}:dolly database server:/nonexistent:/usr/sbin/nologin\n`);
        await appendFile(join(rootfs, 'etc/group'), `dolly:x:${SERVER_UID}:\n`);
        for (const dir of ['var/lib/mysql', 'var/lib/mysql-files', 'run/dolly', 'run/mysqld']) {
          await mkdir(join(rootfs, dir), { recursive: true });
          await chown(join(rootfs, dir), SERVER_UID, SERVER_UID);
        }
      },
      revision: engine.revision,
      changes: [`CMD ["${engine.flavor === 'mysql' ? 'mysqld' : 'mariadbd'}"]`, `LABEL dolly.image=${engine.flavor}`, `LABEL dolly.flavor=${engine.flavor}`, `LABEL ${LABEL_VERSION}=${engine.version}`],
      rootHint: `run \`sudo dolly images build --engine ${engine.name}\``,
    },
    options,
    deps,
  );
}

/** The label that records an image's server version (major.minor). */
export const LABEL_VERSION = 'dolly.version';

/** What an image says it runs (labels of dolly's own images; null for others). */
export async function imageEngine(docker: DockerClient, tag: string): Promise<{ flavor: string; version: string } | null> {
  const labels = (await docker.getImage(tag).inspect()).Config?.Labels ?? {};
  const flavor = labels['dolly.flavor'];
  if (flavor === undefined) return null;
  return { flavor, version: labels[LABEL_VERSION] ?? findEngine(tag)?.version ?? '10.11' };
}

/** Makes sure `image` is present: pulls images from a registry, refuses to guess for dolly's own. */
export async function ensureImage(docker: DockerClient, image: string, logger: Logger): Promise<void> {
  if (await imageExists(docker, image)) {
    const revision = await imageRevision(docker, image);
    const engine = findEngine(image);
    if ((image.startsWith('dolly/mariadb') || image.startsWith('dolly/mysql')) && (revision ?? 0) < MARIADB_RECIPE_REVISION) {
      throw new FailedPreconditionError(`image ${image} was built by an older dolly (its servers would run as root)`, { hint: 'rebuild it with `dolly images build --force`' });
    }
    if (engine && (revision ?? 0) < engine.revision) {
      throw new FailedPreconditionError(`image ${image} was built by an older dolly (recipe ${revision ?? 0}; this one needs ${engine.revision})`, { hint: `rebuild it with \`dolly images build --engine ${engine.name}\`` });
    }
    return;
  }
  if (image.startsWith('dolly/')) {
    throw new NotFoundError(`image ${image} not found`, { hint: 'build it with `dolly images build` (about 2 minutes, once)' });
  }
  logger.info('pulling image', { image });
  try {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
  } catch (error) {
    throw new NotFoundError(`image ${image} could not be pulled`, { hint: 'check the name, or that a registry is reachable', cause: error });
  }
}

/** The recipe revision an image was built from (null when it has none). */
export async function imageRevision(docker: DockerClient, tag: string): Promise<number | null> {
  const value = (await docker.getImage(tag).inspect()).Config?.Labels?.[LABEL_RECIPE];
  return value === undefined ? null : Number(value);
}

/** `tar -C rootfs . | docker import` with Dockerfile-style `changes` (CMD, ENTRYPOINT, LABEL ...). */
export async function importRootfs(docker: DockerClient, rootfs: string, tag: string, changes: readonly string[]): Promise<void> {
  const [repo, version] = splitTag(tag);
  const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (chunk: Buffer) => (tarErr += chunk.toString()));
  const tarDone = new Promise<number | null>((resolve) => tar.on('close', resolve));
  try {
    const stream = await docker.importImage(tar.stdout, { repo, tag: version, changes: [...changes] });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
  } catch (error) {
    tar.kill();
    throw error;
  }
  const code = await tarDone;
  if (code !== 0) throw new CommandFailedError('tar', code, tarErr);
}

function splitTag(tag: string): [string, string] {
  const at = tag.lastIndexOf(':');
  if (at <= tag.lastIndexOf('/')) return [tag, 'latest'];
  return [tag.slice(0, at), tag.slice(at + 1)];
}

/** The Debian mirror the host's apt uses (deb822 or one-line format). */
export async function hostMirror(): Promise<string> {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822?.[1] && !deb822[1].includes('security')) return deb822[1];
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line?.[1]) return line[1];
  }
  return 'http://deb.debian.org/debian';
}
