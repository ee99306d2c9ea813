import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { initPool } from '../../src/engine/pool-init.js';
import { skipUnless } from '../support/capabilities.js';
import { createTestRoot, dolly, type TestRoot } from '../support/engine-harness.js';
import { adminToken, spawnEngine } from '../support/engine-server.js';

const run = promisify(execFile);

/** Setting an engine up: HTTPS with the operator's certificate, and the systemd unit. */
describe('dolly serve: TLS and the systemd unit', { skip: skipUnless('root', 'docker') }, () => {
  let root: TestRoot;
  let files: string;

  before(async () => {
    root = await createTestRoot('dolly-it-setup-');
    files = await mkdtemp(join(tmpdir(), 'dolly-it-setup-files-'));
    await initPool({ driver: 'copy', directory: join(root.root, 'volumes'), ports: '6820-6829' }, root.deps);
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(files, 'key.pem'), '-out', join(files, 'cert.pem')]);
  });

  after(async () => {
    await root?.dispose();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('serves HTTPS with --tls-cert/--tls-key; the remote CLI trusts it through NODE_EXTRA_CA_CERTS and refuses it without', async () => {
    const engine = await spawnEngine(root.root, ['--tls-cert', join(files, 'cert.pem'), '--tls-key', join(files, 'key.pem')]);
    try {
      assert.match(engine.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const env = { DOLLY_URL: engine.url, DOLLY_TOKEN: await adminToken(root.root), DOLLY_ROOT: '' };
      const trusted = await dolly(['--json', 'status'], { ...env, NODE_EXTRA_CA_CERTS: join(files, 'cert.pem') });
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal((JSON.parse(trusted.stdout) as { engine: { url: string } }).engine.url, engine.url);
      const untrusted = await dolly(['status'], env);
      assert.equal(untrusted.code, 8);
      assert.match(untrusted.stderr, /does not answer: .*(certificate|self.signed)/i);
    } finally {
      assert.equal(await engine.stop(), 0);
    }
  });

  it('refuses half a TLS pair and a bad --listen, each as one line', async () => {
    const half = await dolly(['--root', root.root, 'serve', '--tls-cert', join(files, 'cert.pem')]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /^dolly: --tls-cert and --tls-key go together \(hint: .*\)\n$/);
    const listen = await dolly(['--root', root.root, 'serve', '--listen', 'nowhere']);
    assert.equal(listen.code, 2);
    assert.match(listen.stderr, /invalid --listen/);
    const status = await dolly(['--root', root.root, '--json', 'status']);
    assert.equal((JSON.parse(status.stdout) as { engine: unknown }).engine, null, 'a refused start left a claim');
  });

  it('--install writes a unit that systemd accepts, with the same options', async () => {
    const units = join(files, 'units');
    const result = await dolly(['--root', root.root, '--json', 'serve', '--install', '--unit-dir', units, '--listen', '127.0.0.1:2399', '--default-ttl', '8h']);
    assert.equal(result.code, 0, result.stderr);
    const { unit, enabled } = JSON.parse(result.stdout) as { unit: string; enabled: boolean };
    assert.equal(enabled, false);
    const text = await readFile(unit, 'utf8');
    assert.match(text, new RegExp(`^ExecStart=\\S+node \\S+/bin/dolly --root ${root.root} serve --listen 127\\.0\\.0\\.1:2399 --default-ttl 8h$`, 'm'));
    assert.match(text, /^After=docker\.service/m);
    assert.ok(!text.includes('--install'));
    const verify = await run('systemd-analyze', ['verify', unit]).then(
      (r) => r.stderr,
      (e: { stderr?: string }) => e.stderr ?? String(e),
    );
    // On a machine without systemd running, verify still parses the unit; only parse errors matter.
    assert.doesNotMatch(verify, /(Unknown|Invalid|Failed to parse|bad-setting|Missing)/i, verify);
  });
});
