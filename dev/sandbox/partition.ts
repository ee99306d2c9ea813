import type { DockerClient } from '../../src/docker/client.js';
import { execIn } from '../../src/docker/exec.js';
import { CommandFailedError, NotFoundError } from '../../src/errors.js';
import type { SandboxState } from './sandbox-state.js';

/** Marks dolly's rules, so healing removes exactly them. */
const COMMENT = 'dolly-sandbox-cut';

/** The iptables commands that cut a node off from (or, with `-D`, reconnect it to) its peers. */
export function cutRules(peers: readonly string[], action: '-I' | '-D'): string[][] {
  return peers.flatMap((address) => [
    ['iptables', action, 'INPUT', '-s', address, '-m', 'comment', '--comment', COMMENT, '-j', 'DROP'],
    ['iptables', action, 'OUTPUT', '-d', address, '-m', 'comment', '--comment', COMMENT, '-j', 'DROP'],
  ]);
}

/**
 * Cuts a sandbox node off from the other nodes (`cut: true`) or heals it: packets between its
 * address and theirs on the sandbox network are dropped inside the node, so Swarm's control
 * traffic and every overlay network (vb-net) between them stop, while the host still reaches the
 * node's published ports. (`docker network disconnect` would do the first too, but the Docker
 * engine of Debian 12 does not publish a container's ports again when it is reconnected.)
 */
export async function cutNode(host: DockerClient, sandbox: SandboxState, hostname: string, cut: boolean): Promise<void> {
  const node = sandbox.nodes.find((n) => n.hostname === hostname);
  if (!node) throw new NotFoundError(`no sandbox node ${hostname}`, { hint: `the nodes are ${sandbox.nodes.map((n) => n.hostname).join(', ')}` });
  const peers = sandbox.nodes.filter((n) => n !== node).map((n) => n.address);
  for (const rule of cutRules(peers, cut ? '-I' : '-D')) {
    const result = await execIn(host, node.container, rule);
    // Healing a node that is not cut finds no rule to delete: that is fine.
    if (result.code !== 0 && cut) throw new CommandFailedError(rule.join(' '), result.code, result.stderr);
  }
}
