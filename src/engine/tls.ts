import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { rootTag } from '../labels.js';
import { SERVER_UID } from '../docker/server-user.js';
import type { Shell } from '../shell.js';

/**
 * Clones serve TLS with a certificate from a CA of their root. The CA is made once per root
 * (`dolly init`, or the first clone of an older root) in `ROOT/tls/`: its key (0600, root only)
 * never leaves that directory, so no clone holds it; clients verify a clone with `ca.pem`
 * (`ssl-mode=VERIFY_CA`; the engine serves it at `/v1/ca.pem`). Keys are ECDSA P-256, made by
 * the host's `openssl` (about 15 ms a certificate).
 */

/** The directory of a root's CA. */
export function tlsDir(root: string): string {
  return join(root, 'tls');
}

/** The CA certificate clients verify clones with. */
export function caPath(root: string): string {
  return join(tlsDir(root), 'ca.pem');
}

/** What a clone's run directory gets: its certificate and key, and the CA certificate. */
export const CLONE_TLS_FILES = { cert: 'server-cert.pem', key: 'server-key.pem', ca: 'ca.pem' } as const;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/**
 * Makes the root's CA unless it exists. Safe when several commands make it at once: each makes
 * one in a directory of its own, and the first rename wins (a directory is never renamed onto a
 * non-empty one); the others drop theirs.
 */
export async function ensureCa(root: string, shell: Shell): Promise<string> {
  const ca = caPath(root);
  if (await readFile(ca).then(() => true, () => false)) return ca;
  await mkdir(root, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(root, '.tls-'));
  try {
    await chmod(work, 0o700);
    await shell.run('openssl', ['req', '-x509', ...EC, '-keyout', join(work, 'ca.key'), '-out', join(work, 'ca.pem'), '-subj', `/CN=dolly clones CA ${rootTag(root)}`, '-days', '3650',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await chmod(join(work, 'ca.key'), 0o600);
    await chmod(join(work, 'ca.pem'), 0o644);
    await rename(work, tlsDir(root)).catch(() => undefined);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return ca;
}

/**
 * Issues a clone's server certificate into `dir` (its run directory): valid for the addresses and
 * names clients use (the bind address, 127.0.0.1, localhost), signed by the root's CA. The key is
 * the server's (uid 3306, 0600); the CA's key stays in `ROOT/tls/`.
 */
export async function issueServerCert(root: string, dir: string, name: string, addresses: readonly string[], shell: Shell): Promise<void> {
  await ensureCa(root, shell);
  const ips = [...new Set(['127.0.0.1', ...addresses.filter((a) => /^[0-9.]+$|:/.test(a) && a !== '0.0.0.0' && a !== '::')])];
  const san = [...ips.map((ip) => `IP:${ip}`), 'DNS:localhost'].join(',');
  const key = join(dir, CLONE_TLS_FILES.key);
  await shell.run('openssl', ['req', '-x509', ...EC, '-keyout', key, '-out', join(dir, CLONE_TLS_FILES.cert), '-subj', `/CN=dolly clone ${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`, '-days', '825',
    '-addext', `subjectAltName=${san}`, '-addext', 'extendedKeyUsage=serverAuth', '-CA', caPath(root), '-CAkey', join(tlsDir(root), 'ca.key')]);
  await chown(key, SERVER_UID, SERVER_UID);
  await chmod(key, 0o600);
  await copyFile(caPath(root), join(dir, CLONE_TLS_FILES.ca));
  await chmod(join(dir, CLONE_TLS_FILES.ca), 0o644);
}
