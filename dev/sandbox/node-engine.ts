import Docker from 'dockerode';
import type { DockerClient } from '../../src/docker/client.js';
import { InterruptedError, UnavailableError, messageOf } from '../../src/errors.js';

/** Where a node's engine answers on the host: a unix socket in a root-only directory of the host (no TCP port). */
export interface EngineEndpoint {
  readonly socket: string;
}

/** Makes a Docker client for a node's engine (dockerode here; tests may pass their own). */
export type ConnectEngine = (endpoint: EngineEndpoint) => DockerClient;

/** The default ConnectEngine: the node's socket. */
export const connectEngine: ConnectEngine = (endpoint) => new Docker({ socketPath: endpoint.socket });

/** `DOCKER_HOST` for a node's engine, e.g. `unix:///var/lib/dolly/sandbox-engines/node-1/docker.sock`. */
export function dockerHostOf(endpoint: EngineEndpoint): string {
  return `unix://${endpoint.socket}`;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Polls `probe` until it returns a value other than undefined, or rejects with UnavailableError
 * after `timeoutMs` (saying `what` and the last failure), or InterruptedError on `signal`.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer';
  for (;;) {
    if (options.signal?.aborted) throw new InterruptedError(`interrupted while waiting for ${what}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = messageOf(error);
    }
    if (Date.now() >= deadline) {
      throw new UnavailableError(`${what}: not ready after ${Math.round(options.timeoutMs / 1000)} s (${last})`, {
        hint: 'see the node container’s log (docker logs <node container>)',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

/** Waits until a node's engine answers `/_ping`. */
export async function waitForEngine(engine: DockerClient, name: string, options: WaitOptions): Promise<void> {
  await waitFor(`the engine of ${name}`, async () => ((await engine.ping()) ? true : undefined), options);
}
