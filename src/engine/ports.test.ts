import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ResourceExhaustedError } from '../errors.js';
import { isPortFree, pickPort } from './ports.js';

describe('pickPort', () => {
  it('skips ports held by clones and ports something listens on; fails clearly when none is left', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const busy = address.port;
    try {
      assert.equal(await isPortFree(busy, '127.0.0.1'), false);
      assert.equal(await pickPort(busy, busy + 1, new Set(), '127.0.0.1'), busy + 1);
      await assert.rejects(pickPort(busy, busy + 1, new Set([busy + 1]), '127.0.0.1'), ResourceExhaustedError);
    } finally {
      server.close();
    }
  });
});
