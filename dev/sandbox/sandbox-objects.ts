import { isDockerNotFound, type DockerClient } from '../../src/docker/client.js';
import type { MadeObjects } from './node-container.js';
import { sandboxFilter } from './sandbox-names.js';

/** The names of a root's sandbox objects on the host engine, found by label. */
export async function findSandboxObjects(docker: DockerClient, root: string): Promise<MadeObjects> {
  const nodeFilter = sandboxFilter(root, 'sandbox-node');
  const containers = await docker.listContainers({ all: true, filters: nodeFilter });
  const volumes = await docker.listVolumes({ filters: nodeFilter });
  const networks = await docker.listNetworks({ filters: sandboxFilter(root, 'sandbox') });
  return {
    containers: containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, '')),
    volumes: (volumes.Volumes ?? []).map((v) => v.Name),
    networks: networks.map((n) => n.Name),
  };
}

/**
 * Removes containers (killed: a sandbox node holds nothing that needs a clean stop), then their
 * volumes, then networks. Objects already gone are skipped; the first other failure is thrown
 * after everything else was tried.
 */
export async function removeSandboxObjects(docker: DockerClient, objects: MadeObjects): Promise<void> {
  const failures: unknown[] = [];
  const attempt = async (remove: () => Promise<unknown>): Promise<void> => {
    try {
      await remove();
    } catch (error) {
      if (!isDockerNotFound(error)) failures.push(error);
    }
  };
  await Promise.all(objects.containers.map((name) => attempt(() => docker.getContainer(name).remove({ force: true, v: true }))));
  await Promise.all(objects.volumes.map((name) => attempt(() => docker.getVolume(name).remove())));
  for (const name of objects.networks) await attempt(() => docker.getNetwork(name).remove());
  if (failures.length > 0) throw failures[0];
}
