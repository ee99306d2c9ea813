import { createHash } from 'node:crypto';

/** Labels put on everything dolly creates in Docker, so it is found again by label, per root. */
export const LABEL_ROOT = 'dolly.root';
export const LABEL_KIND = 'dolly.kind';
export const LABEL_NAME = 'dolly.name';
export const LABEL_VOLUME = 'dolly.volume';
export const LABEL_PORT = 'dolly.port';

/** What a container or image is to dolly. */
export type ObjectKind = 'replica' | 'clone' | 'prepare' | 'snapshot' | 'source' | 'copy' | 'network';

export function labelsFor(root: string, kind: ObjectKind, name: string, volume?: string): Record<string, string> {
  const labels: Record<string, string> = { [LABEL_ROOT]: root, [LABEL_KIND]: kind, [LABEL_NAME]: name };
  if (volume !== undefined) labels[LABEL_VOLUME] = volume;
  return labels;
}

/** A short hash of a root: in container and network names, it keeps two roots apart on one engine. */
export function rootTag(root: string): string {
  return createHash('sha256').update(root).digest('hex').slice(0, 8);
}
