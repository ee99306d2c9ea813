import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { LOADGEN_ENV, loadgenEnv, readLoadgenEnv, readPasswordFile, type LoadgenSettings } from './loadgen-env.js';

const settings: LoadgenSettings = { host: 'source', port: 3306, user: 'root', passwordFile: '/run/secrets/pw', database: 'docker', intervalMs: 1000 };

describe('the loadgen environment contract', () => {
  it('names the seed’s MYSQL_HOST and carries the password as a file path only', () => {
    const env = loadgenEnv(settings);
    assert.equal(env[LOADGEN_ENV.host], 'source');
    assert.equal(env[LOADGEN_ENV.passwordFile], '/run/secrets/pw');
    assert.deepEqual(Object.keys(env), [...Object.keys(env)].sort());
    assert.ok(!Object.keys(env).some((key) => key === 'MYSQL_PASSWORD' || key === 'MYSQL_ROOT_PASSWORD'));
  });
  it('round-trips through the entry point’s reader', () => {
    assert.deepEqual(readLoadgenEnv(loadgenEnv(settings)), settings);
  });
  it('refuses a missing variable or a bad number, naming the variable', () => {
    const env = loadgenEnv(settings);
    assert.throws(() => readLoadgenEnv({ ...env, MYSQL_HOST: undefined }), (e: unknown) => e instanceof InvalidArgumentError && e.message === 'MYSQL_HOST is not set');
    assert.throws(() => readLoadgenEnv({ ...env, MYSQL_PORT: '99999' }), /MYSQL_PORT must be a whole number from 1 to 65535/);
    assert.throws(() => readLoadgenEnv({ ...env, LOADGEN_INTERVAL_MS: '10' }), /LOADGEN_INTERVAL_MS must be a whole number from 100/);
  });
  it('reads the password file without its trailing newlines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-loadgen-'));
    try {
      await writeFile(join(dir, 'pw'), "pa'ss\nword\n\n");
      assert.equal(await readPasswordFile(join(dir, 'pw')), "pa'ss\nword");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
