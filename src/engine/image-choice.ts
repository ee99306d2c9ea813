import { buildableEngines, type EngineImage } from '../docker/image-build.js';
import { FailedPreconditionError } from '../errors.js';
import type { ProvisionMethod } from './provision.js';

/** What the source runs, as `checkSource` found it (`version` as the server reports it: `10.11.18-MariaDB-log`). */
export interface SourceEngine {
  flavor: 'mariadb' | 'mysql';
  version: string;
}

/**
 * The image a root made without `--image` runs, chosen by `replica init` once it knows the source:
 * - `--method backup` and `--method clone` copy the source's files, which only the same
 *   major.minor reads as they are: the buildable image of the source's flavor at that major.minor;
 * - `--method dump` copies rows, and a replica may be newer than its source (never older): the
 *   nearest buildable image of the source's flavor at or above the source's major.minor.
 * Refused with one line naming the image it would need when dolly builds none that fits.
 * Pure: `engines` are what `dolly images build` can make (default: all of them).
 */
export function chooseImage(source: SourceEngine, method: ProvisionMethod, engines: readonly EngineImage[] = buildableEngines()): EngineImage {
  const wanted = majorMinor(source.version);
  const release = /^\d+(\.\d+)*/.exec(source.version)?.[0] ?? source.version;
  const ofFlavor = engines.filter((e) => e.flavor === source.flavor).sort((a, b) => compare(majorMinor(a.version), majorMinor(b.version)));
  const builds = ofFlavor.length > 0 ? `dolly builds ${ofFlavor.map((e) => `${e.flavor} ${e.version}`).join(', ')}` : `dolly builds no ${source.flavor} image`;
  const needed = `${source.flavor}:${wanted.join('.')}`;
  if (method === 'dump') {
    const fitting = ofFlavor.find((e) => compare(majorMinor(e.version), wanted) >= 0);
    if (fitting) return fitting;
    throw new FailedPreconditionError(`the source is ${source.flavor} ${release} and no image dolly builds runs ${source.flavor} ${wanted.join('.')} or newer: it would need ${needed}`, {
      hint: `make a new root with --image ${needed} (a registry's image; ${builds})`,
    });
  }
  const same = ofFlavor.find((e) => compare(majorMinor(e.version), wanted) === 0);
  if (same) return same;
  const what = method === 'backup' ? 'a backup is prepared and run by' : "CLONE copies files only between servers of";
  throw new FailedPreconditionError(`the source is ${source.flavor} ${release} and no image dolly builds runs ${source.flavor} ${wanted.join('.')} (${what} the same major.minor): it would need ${needed}`, {
    hint: `make a new root with --image ${needed} (a registry's image), or use --method dump (${builds})`,
  });
}

/** major.minor as numbers (`10.11.18-MariaDB-log` → [10, 11]). */
export function majorMinor(version: string): [number, number] {
  const [, major = '0', minor = '0'] = /(\d+)\.(\d+)/.exec(version) ?? [];
  return [Number(major), Number(minor)];
}

function compare(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}
