import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loopDevicesOf } from '../../src/storage/btrfs-pool.js';
import type { DataMount } from '../../src/storage/driver.js';
import { createShell } from '../../src/shell.js';
import type { TestVolume } from './conformance-harness.js';

/** Test helpers for host file systems: loop images, mounts, and file I/O on path volumes. */
export const shell = createShell();

/** Makes a sparse image, formats it (`mkfs` argv without the image) and loop-mounts it. */
export async function mountLoopImage(image: string, size: string, mkfs: string[], mountpoint: string): Promise<void> {
  await shell.run('truncate', ['-s', size, image]);
  await shell.run(mkfs[0] ?? 'false', [...mkfs.slice(1), image]);
  await mkdir(mountpoint, { recursive: true });
  await shell.run('mount', ['-o', 'loop', image, mountpoint]);
}

/** Mount points at or under `prefix`, deepest first. */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info.split('\n').map((line) => line.split(' ')[4] ?? '');
  return points.filter((p) => p === prefix || p.startsWith(`${prefix}/`)).sort((a, b) => b.length - a.length);
}

/**
 * Removes everything a test made under `dir`: unmounts what is mounted there, detaches the loop
 * devices of its image files and the `devices` given by path, then deletes the directory.
 */
export async function scrubDir(dir: string, devices: string[] = []): Promise<void> {
  for (const point of await mountsUnder(dir)) await shell.run('umount', [point], { nothrow: true });
  for (const image of await imagesUnder(dir)) {
    for (const device of await loopDevicesOf(image, shell).catch(() => [])) await shell.run('losetup', ['-d', device], { nothrow: true });
  }
  for (const device of devices) await shell.run('losetup', ['-d', device], { nothrow: true });
  await rm(dir, { recursive: true, force: true });
}

async function imagesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith('.img')).map((e) => join(e.parentPath, e.name));
}

/** True when a loop device is attached to a file at or under `dir`. */
export async function loopsUnder(dir: string): Promise<string[]> {
  const { stdout } = await shell.run('losetup', ['-a']);
  return stdout.split('\n').filter((line) => line.includes(`(${dir}/`) || line.includes(`(${dir})`));
}

export function pathOf(mount: DataMount): string {
  if (mount.kind !== 'path') throw new Error(`expected a path mount, got ${JSON.stringify(mount)}`);
  return mount.path;
}

/** Writes a file into a path volume and fsyncs it (so btrfs has allocated its extents). */
export async function writePathFile(volume: TestVolume, rel: string, content: string): Promise<void> {
  const file = join(pathOf(volume.mount), rel);
  await mkdir(dirname(file), { recursive: true });
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function readPathFile(volume: TestVolume, rel: string): Promise<string | null> {
  return readFile(join(pathOf(volume.mount), rel), 'utf8').catch((error: unknown) => {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  });
}

/** Writes zeros to `file` until the file system says ENOSPC; returns the bytes written. */
export async function fillWithZeros(file: string): Promise<number> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(chunk);
      written += bytesWritten;
      if (bytesWritten < chunk.length) await handle.sync();
    }
  } catch (error) {
    if (!(typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOSPC')) throw error;
  } finally {
    await handle.close().catch(() => undefined);
  }
  return written;
}

/** Creates empty files with long names in `dir` until ENOSPC (fills btrfs metadata). */
export async function fillWithEmptyFiles(dir: string): Promise<number> {
  const pad = 'm'.repeat(200);
  for (let i = 0; ; i += 1) {
    try {
      await writeFile(join(dir, `${pad}${i}`), '');
    } catch (error) {
      if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOSPC') return i;
      throw error;
    }
  }
}
