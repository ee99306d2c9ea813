import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DollyError } from '../errors.js';
import { readSecretValue, type SecretValueDeps } from './secret-value.js';

const deps = (env: Record<string, string>, files: Record<string, string> = {}): SecretValueDeps => ({
  env,
  readFile: async (path) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  },
});

describe('readSecretValue (dolly swarm deploy)', () => {
  it('reads an environment variable or a file, without trailing newlines', async () => {
    assert.equal(await readSecretValue({ kind: 'env', name: 'PW' }, deps({ PW: 's3cret\n' })), 's3cret');
    assert.equal(await readSecretValue({ kind: 'file', path: '/pw' }, deps({}, { '/pw': 'from-file\n' })), 'from-file');
  });
  it('refuses an unset or empty value, an unreadable file, and a Pulumi-only origin — never echoing a value', async () => {
    await assert.rejects(readSecretValue({ kind: 'env', name: 'PW' }, deps({})), (e: unknown) => e instanceof DollyError && e.category === 'failed_precondition' && /environment variable PW/.test(e.message));
    await assert.rejects(readSecretValue({ kind: 'env', name: 'PW' }, deps({ PW: '\n' })), /is empty or not set/);
    await assert.rejects(readSecretValue({ kind: 'file', path: '/nope' }, deps({})), /cannot read the secret's file \/nope/);
    await assert.rejects(readSecretValue({ kind: 'pulumi-config', key: 'rootPassword' }, deps({})), (e: unknown) => e instanceof DollyError && e.category === 'invalid_argument');
  });
});
