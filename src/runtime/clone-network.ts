import type Docker from 'dockerode';
import { isDockerConflict, isDockerNotFound, type DockerClient } from '../docker/client.js';
import { LABEL_KIND, LABEL_ROOT, rootTag } from '../labels.js';
import { ensureCloneEgressRules, removeCloneEgressRules } from './clone-egress.js';

/** The bridge network of a root's clones. */
export function cloneNetworkName(root: string): string {
  return `dolly-${rootTag(root)}-clones`;
}

/** The host-side interface of the root's clone network (14 characters; Linux allows 15). */
export function cloneBridgeName(root: string): string {
  return `dolly-${rootTag(root)}`;
}

const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

/**
 * The bridge interface of a network: the one dolly named, or Docker's own `br-<id>` for a clone
 * network made before dolly named its bridges.
 */
function bridgeOf(network: Docker.NetworkInspectInfo): string {
  return network.Options?.[BRIDGE_NAME_OPTION] ?? `br-${network.Id.slice(0, 12)}`;
}

/**
 * Whether the engine runs on this host (a unix socket), so its bridges are this host's interfaces
 * and this host's iptables filter their traffic. The Swarm sandbox's pool node is an engine over
 * TCP in its own network namespace: its clones are not confined by rules made here.
 */
function engineIsLocal(docker: DockerClient): boolean {
  const modem: unknown = (docker as { modem?: unknown }).modem;
  if (typeof modem !== 'object' || modem === null) return false;
  // A unix socket (its path, or dockerode's function finding the default one) and no TCP/SSH host.
  const host = 'host' in modem ? modem.host : undefined;
  return (typeof host !== 'string' || host === '') && 'socketPath' in modem && (typeof modem.socketPath === 'string' || typeof modem.socketPath === 'function');
}

async function inspectNetwork(docker: DockerClient, name: string): Promise<Docker.NetworkInspectInfo | undefined> {
  try {
    return (await docker.getNetwork(name).inspect()) as Docker.NetworkInspectInfo;
  } catch (error) {
    if (isDockerNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Makes sure the root's clone network exists and returns its name: a bridge with inter-container
 * traffic disabled (`enable_icc=false`), so a clone reaches neither another clone nor anything on
 * the host's loopback (the replica's and the source's traffic never cross it); only its published
 * port is reachable, from the host. A clone opens no connection of its own either: no NAT to other
 * networks (`enable_ip_masquerade=false`), and iptables rules on its bridge interface (named
 * `dolly-<tag>`; see clone-egress.ts) reject every connection a clone starts, to the host's own
 * addresses as to anywhere else, while replies to its clients pass. The rules are checked, and
 * made again when missing (after a reboot), on every call. Safe when several commands create it at
 * once.
 */
export async function ensureCloneNetwork(docker: DockerClient, root: string): Promise<string> {
  const name = cloneNetworkName(root);
  let network = await inspectNetwork(docker, name);
  if (!network) {
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { [LABEL_ROOT]: root, [LABEL_KIND]: 'network' },
        Options: {
          'com.docker.network.bridge.enable_icc': 'false',
          'com.docker.network.bridge.enable_ip_masquerade': 'false',
          [BRIDGE_NAME_OPTION]: cloneBridgeName(root),
        },
      });
    } catch (error) {
      if (!isDockerConflict(error)) throw error;
    }
    network = await inspectNetwork(docker, name);
  }
  if (network && engineIsLocal(docker)) await ensureCloneEgressRules(bridgeOf(network), rootTag(root));
  return name;
}

/**
 * Removes the root's clone network and then its iptables rules (every copy, found by their
 * comment); a no-op when it is still in use (the rules stay with it). Also removes rules left by
 * a network already gone.
 */
export async function removeCloneNetwork(docker: DockerClient, root: string): Promise<void> {
  try {
    await docker.getNetwork(cloneNetworkName(root)).remove();
  } catch (error) {
    if (isDockerConflict(error)) return;
    const status = typeof error === 'object' && error !== null && 'statusCode' in error ? (error as { statusCode: unknown }).statusCode : undefined;
    if (status === 403) return; // "has active endpoints"
    if (!isDockerNotFound(error)) throw error;
  }
  if (engineIsLocal(docker)) await removeCloneEgressRules(rootTag(root));
}
