/**
 * A bad stack config stops the Pulumi program before it declares anything: the same validation
 * (buildTopology) as `dolly swarm deploy`, the same one-line message. Its own file, because the
 * program runs once per process at import.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { InvalidArgumentError } from '../../src/errors.js';

const registered: string[] = [];
await pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push(`${args.type} ${args.name}`);
      return { id: `${args.name}-id`, state: {} };
    },
    call: () => ({}),
  },
  'dolly-swarm',
  'dev',
  false,
);
const topology = {
  nodes: [{ hostname: 'node-1', role: 'manager' }, { hostname: 'node-2' }],
  source: { node: 'node-1' },
  pool: { node: 'node-1' },
};
pulumi.runtime.setAllConfig({ 'dolly-swarm:topology': JSON.stringify(topology), 'dolly-swarm:rootPassword': 'x' }, ['dolly-swarm:rootPassword']);

describe('the Pulumi program with a bad stack config', () => {
  it('refuses source and replica on one node before declaring any resource', async () => {
    await assert.rejects(import('../../index.js'), (error: unknown) => error instanceof InvalidArgumentError && error.message === 'source and replica would run on the same node node-1');
    assert.deepEqual(registered, []);
  });
});
