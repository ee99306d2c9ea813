import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { parseSourceUrl } from './source-url.js';

describe('parseSourceUrl', () => {
  it('reads user, percent-decoded password, host and port', () => {
    assert.deepEqual(parseSourceUrl('mysql://repl:p%40ss%3Aw0rd@db.example:3307', {}), { host: 'db.example', port: 3307, user: 'repl', password: 'p@ss:w0rd' });
  });
  it('defaults the port to 3306 and takes the password from DOLLY_SOURCE_PASSWORD', () => {
    assert.deepEqual(parseSourceUrl('mariadb://repl@127.0.0.1', { DOLLY_SOURCE_PASSWORD: 'envpw' }), { host: '127.0.0.1', port: 3306, user: 'repl', password: 'envpw' });
  });
  it('refuses other schemes, a missing user, a database path, bad encodings, never echoing the URL', () => {
    for (const bad of ['http://a:b@h', 'mysql://h:3306', 'mysql://u:secretpw@h/db', 'mysql://u:%zz@h', 'not a url', 'mysql://u:p@h:99999']) {
      assert.throws(
        () => parseSourceUrl(bad, {}),
        (error: unknown) => error instanceof InvalidArgumentError && !error.message.includes('secretpw') && error.hint !== undefined,
        bad,
      );
    }
  });
});
