import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer } from '../../src/demo/production-server.js';
import { UnavailableError } from '../../src/errors.js';
import { waitForServer } from '../../src/mysql/wait-ready.js';
import { MARIADB_IMAGE, requires } from '../support/capabilities.js';
import { TEST_ROOT, removeTestLeftovers, startTestServer, type TestServer } from '../support/mysql-servers.js';

const docker = createDockerClient();
const started: TestServer[] = [];

async function containersOfTests(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`dolly.root=${TEST_ROOT}`] } });
  return list.map((c) => c.Id);
}

describe('waitForServer against real servers', { timeout: 300_000 }, () => {
  before(async () => {
    await removeTestLeftovers(docker).catch(() => undefined);
  });
  after(async () => {
    for (const server of started) await server.stop();
  });

  it('returns as soon as a starting server answers SELECT 1', async (t) => {
    if (!requires(t, 'docker', 'image', 'mariadb-client')) return;
    const server = await startTestServer(docker, { name: `it-wait-${process.pid}`, wait: false });
    started.push(server);
    const container = docker.getContainer(server.containerId);
    const waited = await waitForServer(server.connectOptions, { timeoutMs: 120_000, alive: async () => (await container.inspect()).State.Running });
    assert.ok(waited > 0 && waited < 60_000, `waited ${waited} ms`);
    t.diagnostic(`first start (mariadb-install-db + server) answered after ${waited} ms`);
    // Already up: the answer takes one connect.
    const again = await waitForServer(server.connectOptions, { timeoutMs: 5000 });
    assert.ok(again < 200, `an up server took ${again} ms`);
    t.diagnostic(`an up server answers in ${again} ms`);
  });

  it('fails fast when the server process is gone (alive() = false)', async (t) => {
    if (!requires(t, 'docker', 'image')) return;
    const server = await startTestServer(docker, { name: `it-dies-${process.pid}`, wait: false, args: ['--no-such-option-at-all'] });
    started.push(server);
    const container = docker.getContainer(server.containerId);
    const begin = Date.now();
    await assert.rejects(
      waitForServer(server.connectOptions, { timeoutMs: 120_000, alive: async () => (await container.inspect()).State.Running }),
      (e: unknown) => e instanceof UnavailableError && /exited before it answered/.test(e.message),
    );
    assert.ok(Date.now() - begin < 30_000, `took ${Date.now() - begin} ms`);
  });

  it('a production server that cannot bind its port fails and leaves no container behind', async (t) => {
    if (!requires(t, 'docker', 'image')) return;
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    try {
      const before = await containersOfTests();
      await assert.rejects(
        startProductionServer({ docker, root: TEST_ROOT, image: MARIADB_IMAGE, rootPassword: 'x', name: `it-busy-${process.pid}`, port }),
        (e: unknown) => e instanceof UnavailableError && /did not start/.test(e.message),
      );
      assert.deepEqual(await containersOfTests(), before);
    } finally {
      blocker.close();
    }
  });
});
