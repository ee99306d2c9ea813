import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import { connectDocker, dockerEndpointsPath, readDockerEndpoints, removeDockerEndpoints, serversEndpoint, writeDockerEndpoints } from './endpoints.js';

describe('the Docker endpoints file', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'dolly-endpoints-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('absent: the local engine (no servers endpoint)', async () => {
    assert.equal(await readDockerEndpoints(root), undefined);
    assert.equal(await serversEndpoint(root), undefined);
  });

  it('written and read back; 0644; removed', async () => {
    const endpoints = { servers: 'unix:///run/x/node-2.sock', manager: 'tcp://127.0.0.1:2375', nodes: { 'node-1': 'tcp://127.0.0.1:2375' } };
    await writeDockerEndpoints(root, endpoints);
    assert.deepEqual(await readDockerEndpoints(root), endpoints);
    assert.equal((await stat(dockerEndpointsPath(root))).mode & 0o777, 0o644);
    const servers = await serversEndpoint(root);
    assert.equal((servers?.docker.modem as { socketPath?: string }).socketPath, '/run/x/node-2.sock');
    await removeDockerEndpoints(root);
    assert.equal(await readDockerEndpoints(root), undefined);
  });

  it('a file that is not one is a one-line FailedPreconditionError naming it', async () => {
    for (const text of ['not json', '{"servers":"http://x"}', '{"other":1}']) {
      await writeFile(dockerEndpointsPath(root), text);
      await assert.rejects(readDockerEndpoints(root), (error: unknown) => error instanceof FailedPreconditionError && error.message.includes(dockerEndpointsPath(root)) && !error.message.includes('\n'));
    }
    await removeDockerEndpoints(root);
  });

  it('connectDocker takes unix:// and tcp:// addresses, and refuses others', () => {
    assert.equal((connectDocker('unix:///var/run/docker.sock').modem as { socketPath?: string }).socketPath, '/var/run/docker.sock');
    assert.equal((connectDocker('tcp://10.0.0.5:2376').modem as { host?: string; port?: number }).port, 2376);
    for (const bad of ['http://x:1', 'tcp://x', 'ssh://u@h', '']) assert.throws(() => connectDocker(bad), InvalidArgumentError, bad);
  });
});
