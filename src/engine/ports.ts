import { createServer } from 'node:net';
import { ResourceExhaustedError } from '../errors.js';

/** True when nothing listens on `host:port` (we can bind it ourselves). */
export function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The lowest port of [min, max] that no clone of this root holds and nothing listens on. */
export async function pickPort(min: number, max: number, taken: ReadonlySet<number>, host: string, isFree: (port: number, host: string) => Promise<boolean> = isPortFree): Promise<number> {
  for (let port = min; port <= max; port += 1) {
    if (taken.has(port)) continue;
    if (await isFree(port, host)) return port;
  }
  throw new ResourceExhaustedError(`no free port in ${min}-${max}`, {
    hint: 'destroy clones you no longer need, or widen the range with `dolly init --ports`',
  });
}
