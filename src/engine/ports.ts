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

/** The lowest port of [min, max] that is neither taken (by a clone of this root) nor found busy on the host. */
export function lowestFreePort(min: number, max: number, taken: ReadonlySet<number>): number {
  for (let port = min; port <= max; port += 1) {
    if (!taken.has(port)) return port;
  }
  throw new ResourceExhaustedError(`no free port in ${min}-${max}`, {
    hint: 'destroy clones you no longer need, or widen the range with `dolly init --ports`',
  });
}
