import Docker from 'dockerode';
import type { DockerClient } from '../../docker/client.js';
import { InterruptedError, UnavailableError, messageOf } from '../../errors.js';

/** Where a node's engine answers on the host: its port 2375 published on 127.0.0.1. */
export interface EngineEndpoint {
  readonly host: '127.0.0.1';
  readonly port: number;
}

/** Makes a Docker client for a node's engine (dockerode here; tests may pass their own). */
export type ConnectEngine = (endpoint: EngineEndpoint) => DockerClient;

/** The default ConnectEngine: plain HTTP to 127.0.0.1:port (the port is bound on loopback only). */
export const connectEngine: ConnectEngine = (endpoint) => new Docker({ protocol: 'http', host: endpoint.host, port: endpoint.port });

/** `DOCKER_HOST` for a node's engine, e.g. `tcp://127.0.0.1:32768`. */
export function dockerHostOf(endpoint: EngineEndpoint): string {
  return `tcp://${endpoint.host}:${endpoint.port}`;
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
