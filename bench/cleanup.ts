import { readFile, rm, stat } from 'node:fs/promises';
import type { LoadEmulator } from '../src/mysql/load-emulator.js';
import type { ProductionServer } from '../src/demo/production-server.js';
import { dollyPurge } from './dolly.js';
import { log } from './util.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Runs a cleanup command whatever happened before (even after an interrupt). */
async function tryExec(command: string, args: string[]): Promise<string> {
  try {
    return (await exec(command, args)).stdout;
  } catch (error) {
    log(`cleanup: ${command} ${args.join(' ')} failed: ${String(error).split('\n')[0] ?? ''}`);
    return '';
  }
}

/**
 * Everything this bench made, so it can be removed on success, failure or Ctrl-C: its dolly roots
 * (teardown --purge, then a sweep of containers and images by the root's label, by id), its
 * source servers and the load emulator. Only what this bench started is touched.
 */
export class Resources {
  private readonly roots: string[] = [];
  private readonly servers = new Set<ProductionServer>();
  private readonly labelRoots = new Set<string>();
  emulator: LoadEmulator | null = null;
  private done: Promise<void> | null = null;

  addRoot(root: string): void {
    if (!this.roots.includes(root)) this.roots.push(root);
  }

  addServer(server: ProductionServer, labelRoot: string): void {
    this.servers.add(server);
    this.labelRoots.add(labelRoot);
  }

  async stopServer(server: ProductionServer): Promise<void> {
    await server.stop();
    this.servers.delete(server);
  }

  async stopEmulator(): Promise<void> {
    const emulator = this.emulator;
    this.emulator = null;
    await emulator?.stop().catch(() => undefined);
  }

  /** Purges one root now (and forgets it). */
  async purgeRoot(root: string): Promise<void> {
    const index = this.roots.indexOf(root);
    if (index >= 0) this.roots.splice(index, 1);
    const result = await dollyPurge(root);
    if (result.code !== 0) log(`cleanup: teardown --purge of ${root} exited with ${String(result.code)}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
    await sweep(root);
    await unmountLeftovers(root);
    const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
    if (!mounts.includes(`${root}/`)) await rm(root, { recursive: true, force: true });
    else log(`cleanup: ${root} still has a mount; left in place`);
  }

  /** Removes everything still registered; safe to call more than once (later calls wait for the first). */
  cleanupAll(): Promise<void> {
    const safe = async (what: string, fn: () => Promise<void>): Promise<void> => {
      await fn().catch((error: unknown) => log(`cleanup: ${what}: ${error instanceof Error ? error.message : String(error)}`));
    };
    this.done ??= (async () => {
      await safe('load emulator', () => this.stopEmulator());
      for (const root of [...this.roots].reverse()) await safe(root, () => this.purgeRoot(root));
      for (const server of [...this.servers]) await safe('source server', () => this.stopServer(server));
      for (const labelRoot of this.labelRoots) await safe(labelRoot, () => sweep(labelRoot));
    })();
    return this.done;
  }
}

/** Containers, then images, labelled with this root: removed by id. */
async function sweep(root: string): Promise<void> {
  const containers = (await tryExec('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=dolly.root=${root}`])).split('\n').filter((id) => id !== '');
  if (containers.length > 0) {
    log(`cleanup: removing ${containers.length} leftover container(s) of ${root}`);
    await tryExec('docker', ['rm', '-f', '-v', ...containers]);
  }
  const images = (await tryExec('docker', ['images', '-aq', '--no-trunc', '--filter', `label=dolly.root=${root}`])).split('\n').filter((id) => id !== '');
  if (images.length > 0) {
    log(`cleanup: removing ${images.length} leftover image(s) of ${root}`);
    for (const id of [...new Set(images)].reverse()) await tryExec('docker', ['rmi', '-f', id]);
  }
}

/** A btrfs pool teardown could not unmount: unmount it and detach its loop device. */
async function unmountLeftovers(root: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8').catch(() => '')).split('\n');
  const points = mounts.map((line) => line.split(' ')[1] ?? '').filter((point) => point.startsWith(`${root}/`));
  for (const point of points.sort().reverse()) {
    log(`cleanup: unmounting ${point}`);
    await tryExec('umount', [point]);
  }
  if (!(await stat(`${root}/pool.img`).catch(() => null))) return;
  const loops = await tryExec('losetup', ['-j', `${root}/pool.img`]);
  for (const line of loops.split('\n')) {
    const device = line.split(':')[0];
    if (device !== undefined && device.startsWith('/dev/loop')) await tryExec('losetup', ['-d', device]);
  }
}
