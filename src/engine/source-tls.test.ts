import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { assertTlsFitsMethod, replicationTls, resolveSourceTls } from './source-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'dolly-source-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('--source-tls / --source-ca', () => {
  it('is absent when neither is given, and a mode alone for preferred and required', async () => {
    assert.equal(await resolveSourceTls(undefined, undefined), undefined);
    assert.deepEqual(await resolveSourceTls('required', undefined), { mode: 'required' });
  });
  it('refuses a verify mode without a CA, a CA without a verify mode, an unknown mode, a file that is no certificate', async () => {
    await assert.rejects(resolveSourceTls('verify-ca', undefined), (e: unknown) => e instanceof InvalidArgumentError && /needs the CA/.test(e.message) && /--source-ca/.test(e.hint ?? ''));
    await assert.rejects(resolveSourceTls(undefined, '/x.pem'), InvalidArgumentError);
    await assert.rejects(resolveSourceTls('required', '/x.pem'), InvalidArgumentError);
    await assert.rejects(resolveSourceTls('verify-full', undefined), /takes preferred, required, verify-ca, verify-identity/);
    await assert.rejects(resolveSourceTls('verify-ca', join(dir, 'missing.pem')), /cannot read/);
    writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n');
    await assert.rejects(resolveSourceTls('verify-ca', join(dir, 'key.pem')), /holds no PEM certificate/);
  });
  it('reads a PEM CA for the verify modes', async () => {
    const ca = join(dir, 'ca.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', ca, '-days', '1', '-subj', '/CN=test CA'], { stdio: 'ignore' });
    const tls = await resolveSourceTls('verify-identity', ca);
    assert.equal(tls?.mode, 'verify-identity');
    assert.match(tls?.ca ?? '', /BEGIN CERTIFICATE/);
  });
  it('refuses verify-identity for CLONE (it checks the chain only)', () => {
    assert.throws(() => assertTlsFitsMethod({ mode: 'verify-identity', ca: 'x' }, 'clone'), /cannot check the source's host name/);
    assertTlsFitsMethod({ mode: 'verify-ca', ca: 'x' }, 'clone');
    assert.throws(() => assertTlsFitsMethod({ mode: 'verify-ca' }, 'dump'), /needs the CA/);
  });
  it('sets the IO thread: preferred as offered, required unverified, verify modes with the CA in the run dir', () => {
    assert.deepEqual(replicationTls(undefined, false), { tls: false });
    assert.deepEqual(replicationTls({ mode: 'required' }, true), { tls: true, tlsVerifyServerCert: false });
    assert.deepEqual(replicationTls({ mode: 'verify-ca', ca: 'x' }, true), { tls: true, tlsCa: '/run/dolly/source-ca.pem', tlsVerifyServerCert: false });
    assert.deepEqual(replicationTls({ mode: 'verify-identity', ca: 'x' }, true), { tls: true, tlsCa: '/run/dolly/source-ca.pem', tlsVerifyServerCert: true });
  });
});
