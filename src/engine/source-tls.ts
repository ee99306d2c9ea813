import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { SourceEndpoint } from '../mysql/replication.js';
import { SOURCE_TLS_MODES, type SourceTls, type SourceTlsMode } from '../mysql/source-tls.js';
import { CONTAINER_RUNDIR } from '../runtime/container-layout.js';
import type { Replica } from '../state/state.js';
import { runDir } from './context.js';
import type { ProvisionMethod } from './provision-method.js';
import { REPLICA } from './servers.js';

/**
 * The source's CA (`replica init --source-ca`): kept in the root (public, 0644) so it outlives the
 * replica's run dir, and copied into that run dir, where the replica's server (its IO thread, a
 * CLONE) and a dump's tools container read it at /run/dolly/source-ca.pem.
 */
export const SOURCE_CA_FILE = 'source-ca.pem';

/** The root's copy of the source's CA. */
export function sourceCaPath(root: string): string {
  return join(root, SOURCE_CA_FILE);
}

/** The CA in the replica's run dir, as the host sees it. */
export function replicaCaPath(root: string): string {
  return join(runDir(root, REPLICA), SOURCE_CA_FILE);
}

/** The CA as the replica's server (and a tools container mounting its run dir) sees it. */
export const CONTAINER_CA_PATH = `${CONTAINER_RUNDIR}/${SOURCE_CA_FILE}`;

const VERIFY: readonly SourceTlsMode[] = ['verify-ca', 'verify-identity'];

/**
 * `--source-tls MODE` and `--source-ca FILE` checked and read (before anything is made): the
 * verify modes need a CA, a CA needs a verify mode, and the file must hold a PEM certificate.
 * Undefined when neither is given (preferred, as before).
 */
export async function resolveSourceTls(mode: string | undefined, caFile: string | undefined): Promise<SourceTls | undefined> {
  if (mode === undefined && caFile === undefined) return undefined;
  if (mode === undefined) throw new InvalidArgumentError('--source-ca verifies the source\'s certificate, but no --source-tls mode says how', { hint: 'add --source-tls verify-ca (the chain) or verify-identity (the chain and the host name)' });
  const chosen = SOURCE_TLS_MODES.find((m) => m === mode);
  if (chosen === undefined) throw new InvalidArgumentError(`--source-tls takes ${SOURCE_TLS_MODES.join(', ')}, not ${JSON.stringify(mode)}`, { hint: 'e.g. --source-tls verify-identity --source-ca ca.pem' });
  if (!VERIFY.includes(chosen)) {
    if (caFile !== undefined) throw new InvalidArgumentError(`--source-ca is for --source-tls verify-ca or verify-identity, not ${chosen}`, { hint: `use --source-tls verify-ca to check the certificate, or drop --source-ca` });
    return { mode: chosen };
  }
  if (caFile === undefined) throw new InvalidArgumentError(`--source-tls ${chosen} needs the CA that signed the source's certificate`, { hint: `add --source-ca FILE (PEM), or use --source-tls required (TLS without verification)` });
  return { mode: chosen, ca: await readCa(caFile) };
}

/** The PEM of `file`, which must hold at least one certificate. */
async function readCa(file: string): Promise<string> {
  const pem = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new InvalidArgumentError(`cannot read the source CA file ${file}`, { hint: 'give a readable PEM file (-----BEGIN CERTIFICATE-----)', cause: error });
  });
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no certificate');
    new X509Certificate(pem);
  } catch (error) {
    throw new InvalidArgumentError(`the source CA file ${file} holds no PEM certificate`, { hint: 'give the CA certificate in PEM (-----BEGIN CERTIFICATE-----), not a key or DER', cause: error });
  }
  return pem;
}

/** A mode that some copy method cannot honour, refused before anything is made. */
export function assertTlsFitsMethod(tls: SourceTls | undefined, method: ProvisionMethod): void {
  if (tls !== undefined && VERIFY.includes(tls.mode) && tls.ca === undefined) {
    throw new InvalidArgumentError(`--source-tls ${tls.mode} needs the CA that signed the source's certificate`, { hint: 'add --source-ca FILE (PEM)' });
  }
  if (tls?.mode === 'verify-identity' && method === 'clone') {
    throw new InvalidArgumentError("--method clone cannot check the source's host name: MySQL's CLONE verifies the certificate against clone_ssl_ca only", {
      hint: 'use --source-tls verify-ca with --method clone, or --method dump with verify-identity',
    });
  }
}

/** Puts the CA into the replica's run dir (made here when missing; 0644: a CA is public). */
export async function installReplicaCa(root: string, pem: string): Promise<string> {
  await mkdir(runDir(root, REPLICA), { recursive: true, mode: 0o700 });
  const path = replicaCaPath(root);
  await writeFile(path, pem, { mode: 0o644 });
  return path;
}

/** Keeps the CA in the root for later starts (`up`), or removes a stale one when this replica has none. */
export async function keepSourceCa(root: string, tls: SourceTls | undefined): Promise<void> {
  if (tls?.ca === undefined) await rm(sourceCaPath(root), { force: true });
  else await writeFile(sourceCaPath(root), tls.ca, { mode: 0o644 });
}

/** Before the replica starts again (`up`): its run dir gets the root's CA back when its mode verifies. */
export async function restoreReplicaCa(root: string, replica: Pick<Replica, 'source'>): Promise<void> {
  const mode = replica.source.tls_mode;
  if (mode !== 'verify-ca' && mode !== 'verify-identity') return;
  await mkdir(runDir(root, REPLICA), { recursive: true, mode: 0o700 });
  await copyFile(sourceCaPath(root), replicaCaPath(root));
}

/**
 * The IO thread's TLS: `preferred` uses TLS when the source offers it, verifying nothing (as
 * before); `required` always, unverified; the verify modes with the CA in the replica's run dir,
 * and the host name checked for verify-identity only.
 */
export function replicationTls(tls: SourceTls | undefined, offered: boolean): Pick<SourceEndpoint, 'tls' | 'tlsCa' | 'tlsVerifyServerCert'> {
  const mode = tls?.mode ?? 'preferred';
  if (mode === 'preferred') return { tls: offered };
  if (mode === 'required') return { tls: true, tlsVerifyServerCert: false };
  return { tls: true, tlsCa: CONTAINER_CA_PATH, tlsVerifyServerCert: mode === 'verify-identity' };
}
