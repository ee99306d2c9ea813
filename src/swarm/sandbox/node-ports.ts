import { readFile } from 'node:fs/promises';
import type { DockerClient } from '../../docker/client.js';

/** TCP state `LISTEN` in /proc/net/tcp{,6}. */
const LISTEN = '0A';

/** Ports with a listening TCP socket in /proc/<pid>/net/tcp and tcp6, i.e. in that process's network namespace. */
export async function listeningPorts(pid: number): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (fields[3] !== LISTEN || !local) continue;
      ports.add(Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
    }
  }
  return ports;
}

/**
 * Whether a port is free on a sandbox node: nothing listens on it in the node container's network
 * namespace (where clones bind), read from the host through the container's first process. The
 * host's own 127.0.0.1:port is the sandbox's published port and always looks taken.
 */
export function nodePortFree(host: DockerClient, container: string): (port: number) => Promise<boolean> {
  return async (port) => {
    const pid = (await host.getContainer(container).inspect()).State.Pid;
    return !(await listeningPorts(pid)).has(port);
  };
}
