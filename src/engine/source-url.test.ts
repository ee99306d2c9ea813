import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { parseSourceUrl, sourcePassword } from './source-url.js';

describe('parseSourceUrl', () => {
  it('reads the percent-decoded user, host and port (3306 by default)', () => {
    assert.deepEqual(parseSourceUrl('mysql://re%40pl@db.example:3307'), { host: 'db.example', port: 3307, user: 're@pl' });
    assert.deepEqual(parseSourceUrl('mariadb://repl@127.0.0.1'), { host: '127.0.0.1', port: 3306, user: 'repl' });
  });
  it('refuses a password in the URL, other schemes, a missing user, a database path, bad encodings, never echoing the URL', () => {
    for (const bad of ['mysql://u:secretpw@h', 'http://a@h', 'mysql://h:3306', 'mysql://u@h/secretpw', 'mysql://%zz@h', 'not a url', 'mysql://u@h:99999']) {
      assert.throws(
        () => parseSourceUrl(bad),
        (error: unknown) => error instanceof InvalidArgumentError && !error.message.includes('secretpw') && error.hint !== undefined,
        bad,
      );
    }
    assert.throws(() => parseSourceUrl('mysql://u:secretpw@h'), /process list/);
  });
});

describe('sourcePassword', () => {
  it('comes from the file first, then DOLLY_SOURCE_PASSWORD, then the prompt, else empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-pw-'));
    try {
      await writeFile(join(dir, 'pw'), 'from-file\nignored\n', { mode: 0o600 });
      const prompt = async (): Promise<string> => 'typed';
      assert.equal(await sourcePassword({ file: join(dir, 'pw'), env: { DOLLY_SOURCE_PASSWORD: 'env' }, prompt }), 'from-file');
      assert.equal(await sourcePassword({ env: { DOLLY_SOURCE_PASSWORD: 'env' }, prompt }), 'env');
      assert.equal(await sourcePassword({ env: {}, prompt }), 'typed');
      assert.equal(await sourcePassword({ env: {} }), '');
      await assert.rejects(sourcePassword({ file: join(dir, 'missing') }), InvalidArgumentError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
