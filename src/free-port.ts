import { createServer } from 'node:net';
import { ResourceExhaustedError } from './errors.js';

/** Ports clones take (src/engine/ports.ts); a demo or test server stays out of them. */
const AVOID = { from: 6000, to: 6099 };

/**
 * A TCP port that is free on `host` now: binds port 0, reads what the kernel chose, closes. Another
 * process may take it before the caller binds it; callers that start a server check it answers.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(chosen));
      });
    });
    if (port > 0 && (port < AVOID.from || port > AVOID.to)) return port;
  }
  throw new ResourceExhaustedError(`no free TCP port on ${host}`, { hint: 'free some ports, or pass one explicitly' });
}
