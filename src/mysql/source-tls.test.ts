import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientTlsArgs, sourceConnectOptions, sqlTls } from './source-tls.js';

const CA = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n';

describe('source TLS', () => {
  it('leaves preferred as before: no TLS on dolly\'s own connections, no client flags', () => {
    assert.equal(sqlTls(undefined), undefined);
    assert.equal(sqlTls({ mode: 'preferred' }), undefined);
    assert.deepEqual(clientTlsArgs('mariadb', { mode: 'preferred' }, undefined), []);
    assert.equal(sourceConnectOptions({ host: 'h', port: 1, user: 'u', password: 'p' }).tls, undefined);
  });
  it('maps each mode to mysql2: required unverified, verify-ca the chain, verify-identity the name too', () => {
    assert.deepEqual(sqlTls({ mode: 'required' }), { verify: 'none' });
    assert.deepEqual(sqlTls({ mode: 'verify-ca', ca: CA }), { verify: 'ca', ca: CA });
    assert.deepEqual(sourceConnectOptions({ host: 'h', port: 1, user: 'u', password: 'p', tls: { mode: 'verify-identity', ca: CA } }).tls, { verify: 'identity', ca: CA });
  });
  it('gives the dump programs the flags of their flavor', () => {
    assert.deepEqual(clientTlsArgs('mariadb', { mode: 'required' }, undefined), ['--ssl']);
    assert.deepEqual(clientTlsArgs('mariadb', { mode: 'verify-ca', ca: CA }, '/ca.pem'), ['--ssl', '--ssl-ca=/ca.pem']);
    assert.deepEqual(clientTlsArgs('mariadb', { mode: 'verify-identity', ca: CA }, '/ca.pem'), ['--ssl', '--ssl-ca=/ca.pem', '--ssl-verify-server-cert']);
    assert.deepEqual(clientTlsArgs('mysql', { mode: 'required' }, undefined), ['--ssl-mode=REQUIRED']);
    assert.deepEqual(clientTlsArgs('mysql', { mode: 'verify-ca', ca: CA }, '/run/dolly/ca.pem'), ['--ssl-mode=VERIFY_CA', '--ssl-ca=/run/dolly/ca.pem']);
    assert.deepEqual(clientTlsArgs('mysql', { mode: 'verify-identity', ca: CA }, '/c'), ['--ssl-mode=VERIFY_IDENTITY', '--ssl-ca=/c']);
    assert.throws(() => clientTlsArgs('mysql', { mode: 'verify-ca', ca: CA }, undefined));
  });
});
