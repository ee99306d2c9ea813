import { isDockerConflict, isDockerNotFound, type DockerClient } from '../docker/client.js';
import { LABEL_KIND, LABEL_ROOT, rootTag } from '../labels.js';

/** The bridge network of a root's clones. */
export function cloneNetworkName(root: string): string {
  return `dolly-${rootTag(root)}-clones`;
}

/**
 * Makes sure the root's clone network exists and returns its name: a bridge with inter-container
 * traffic disabled (`enable_icc=false`), so a clone reaches neither another clone nor anything on
 * the host's loopback (the replica's and the source's traffic never cross it); only its published
 * port is reachable, from the host. Safe when several commands create it at once.
 */
export async function ensureCloneNetwork(docker: DockerClient, root: string): Promise<string> {
  const name = cloneNetworkName(root);
  try {
    await docker.getNetwork(name).inspect();
    return name;
  } catch (error) {
    if (!isDockerNotFound(error)) throw error;
  }
  try {
    await docker.createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { [LABEL_ROOT]: root, [LABEL_KIND]: 'network' },
      Options: { 'com.docker.network.bridge.enable_icc': 'false' },
    });
  } catch (error) {
    if (!isDockerConflict(error)) throw error;
  }
  return name;
}

/** Removes the root's clone network; a no-op when it is missing or still in use. */
export async function removeCloneNetwork(docker: DockerClient, root: string): Promise<void> {
  try {
    await docker.getNetwork(cloneNetworkName(root)).remove();
  } catch (error) {
    if (isDockerNotFound(error) || isDockerConflict(error)) return;
    const status = typeof error === 'object' && error !== null && 'statusCode' in error ? (error as { statusCode: unknown }).statusCode : undefined;
    if (status === 403) return; // "has active endpoints"
    throw error;
  }
}
