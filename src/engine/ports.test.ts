import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ResourceExhaustedError } from '../errors.js';
import { isPortFree, lowestFreePort } from './ports.js';

describe('ports', () => {
  it('isPortFree sees a port something listens on', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    try {
      assert.equal(await isPortFree(address.port, '127.0.0.1'), false);
    } finally {
      server.close();
    }
  });
  it('lowestFreePort skips taken ports and fails clearly when none is left', () => {
    assert.equal(lowestFreePort(6000, 6002, new Set([6000])), 6001);
    assert.throws(() => lowestFreePort(6000, 6001, new Set([6000, 6001])), ResourceExhaustedError);
  });
});
