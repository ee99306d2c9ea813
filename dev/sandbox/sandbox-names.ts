import { join } from 'node:path';
import { LABEL_KIND, LABEL_NAME, LABEL_ROOT, rootTag } from '../../src/labels.js';

/** What a sandbox object is: the network (`sandbox`) or a node container or its volume (`sandbox-node`). */
export type SandboxKind = 'sandbox' | 'sandbox-node';

/** Label on a node container: `manager` or `worker` (the role it was given at `sandbox up`). */
export const LABEL_SANDBOX_ROLE = 'dolly.sandbox.role';
/** Label on a node container: `true` on the pool node (its Swarm node also gets `dolly.pool=true`). */
export const LABEL_SANDBOX_POOL = 'dolly.sandbox.pool';

/** The sandbox's bridge network on the host engine: `dolly-sandbox-<hash of root>`. */
export function sandboxNetworkName(root: string): string {
  return `dolly-sandbox-${rootTag(root)}`;
}

/** A node's hostname inside the Swarm: `node-1` .. `node-N` (node-1 is the manager). */
export function nodeHostname(index: number): string {
  return `node-${index}`;
}

/** A node's container name on the host engine: `dolly-<hash>-node-<i>`. */
export function nodeContainerName(root: string, index: number): string {
  return `dolly-${rootTag(root)}-${nodeHostname(index)}`;
}

/** The volume that holds a node's /var/lib/docker: `dolly-<hash>-node-<i>-docker`. */
export function nodeVolumeName(root: string, index: number): string {
  return `${nodeContainerName(root, index)}-docker`;
}

/** The host directory (0700) holding the sockets of the root's node engines. */
export function sandboxEnginesDir(root: string): string {
  return join(root, 'sandbox-engines');
}

/** Where a node's engine listens, on the host: `<root>/sandbox-engines/<hostname>/docker.sock`. */
export function nodeSocketPath(root: string, hostname: string): string {
  return join(sandboxEnginesDir(root), hostname, 'docker.sock');
}

/** The labels of every sandbox object of `root`; `name` is the node's hostname or the network's name. */
export function sandboxLabels(root: string, kind: SandboxKind, name: string): Record<string, string> {
  return { [LABEL_ROOT]: root, [LABEL_KIND]: kind, [LABEL_NAME]: name };
}

/** A Docker list filter that finds the objects of one kind of one root's sandbox. */
export function sandboxFilter(root: string, kind: SandboxKind): { label: string[] } {
  return { label: [`${LABEL_ROOT}=${root}`, `${LABEL_KIND}=${kind}`] };
}
