import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { secretValue } from '../../components/secret-value.js';

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

pulumi.runtime.setAllConfig({ 'dolly-swarm:rootPassword': 'from-stack\n' }, ['dolly-swarm:rootPassword']);
const config = new pulumi.Config('dolly-swarm');

describe('the Pulumi program resolves the secret from where the model says', () => {
  it('a stack secret, an environment variable or a file: a secret output, trailing newlines dropped', async () => {
    const stack = secretValue({ kind: 'pulumi-config', key: 'rootPassword' }, config);
    assert.equal(await valueOf(stack), 'from-stack');
    assert.equal(await pulumi.isSecret(stack), true);
    process.env['DOLLY_TEST_ROOT_PASSWORD'] = 'from-env\n';
    const env = secretValue({ kind: 'env', name: 'DOLLY_TEST_ROOT_PASSWORD' }, config);
    assert.equal(await valueOf(env), 'from-env');
    assert.equal(await pulumi.isSecret(env), true);
    const dir = await mkdtemp(join(tmpdir(), 'dolly-pulumi-'));
    try {
      await writeFile(join(dir, 'pw'), 'from-file\n');
      const file = secretValue({ kind: 'file', path: join(dir, 'pw') }, config);
      assert.equal(await valueOf(file), 'from-file');
      assert.equal(await pulumi.isSecret(file), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('a missing origin is a RunError naming it, never a value', () => {
    assert.throws(() => secretValue({ kind: 'env', name: 'DOLLY_TEST_UNSET' }, config), (e: unknown) => e instanceof pulumi.RunError && /DOLLY_TEST_UNSET/.test(e.message));
    assert.throws(() => secretValue({ kind: 'file', path: '/nonexistent/pw' }, config), /cannot read \/nonexistent\/pw/);
    assert.throws(() => secretValue({ kind: 'pulumi-config', key: 'missing' }, config), /missing/);
  });
});
