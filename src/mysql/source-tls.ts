import type { Flavor } from './flavor.js';
import type { ConnectOptions, SqlTls } from './sql-client.js';

/**
 * How dolly's connections to the source use TLS (`replica init --source-tls`):
 * - `preferred`: TLS where the source offers it (the replication IO thread); nothing verified;
 * - `required`: every connection TLS, the certificate not verified (encryption only);
 * - `verify-ca`: every connection TLS, the certificate must chain to the given CA (any host name);
 * - `verify-identity`: as verify-ca, and the certificate must name the host dolly connects to.
 */
export type SourceTlsMode = 'preferred' | 'required' | 'verify-ca' | 'verify-identity';

export const SOURCE_TLS_MODES: readonly SourceTlsMode[] = ['preferred', 'required', 'verify-ca', 'verify-identity'];

/** A mode and, for the verify modes, the CA's PEM text. */
export interface SourceTls {
  mode: SourceTlsMode;
  /** PEM of the CA the source's certificate must chain to (verify modes only). */
  ca?: string;
}

/** True when the mode makes every connection use TLS (no connection in clear text). */
export function tlsEnforced(tls: SourceTls | undefined): tls is SourceTls & { mode: Exclude<SourceTlsMode, 'preferred'> } {
  return tls !== undefined && tls.mode !== 'preferred';
}

/** The TLS of dolly's own SQL connections to the source; undefined: as before (no TLS). */
export function sqlTls(tls: SourceTls | undefined): SqlTls | undefined {
  if (!tlsEnforced(tls)) return undefined;
  const verify = tls.mode === 'verify-identity' ? 'identity' : tls.mode === 'verify-ca' ? 'ca' : 'none';
  return { verify, ...(tls.ca !== undefined && verify !== 'none' ? { ca: tls.ca } : {}) };
}

/**
 * The TLS flags of a dump program (mariadb-dump / mysqldump) reaching the source; `caFile` is
 * where that program reads the CA. MariaDB's client verifies the chain whenever it has a CA, and
 * the host name with --ssl-verify-server-cert; MySQL's says it with --ssl-mode.
 */
export function clientTlsArgs(flavor: Flavor, tls: SourceTls | undefined, caFile: string | undefined): string[] {
  if (!tlsEnforced(tls)) return [];
  const verify = tls.mode !== 'required';
  if (verify && caFile === undefined) throw new Error(`--source-tls ${tls.mode} needs the CA file`);
  const ca = verify && caFile !== undefined ? [`--ssl-ca=${caFile}`] : [];
  if (flavor === 'mariadb') return ['--ssl', ...ca, ...(tls.mode === 'verify-identity' ? ['--ssl-verify-server-cert'] : [])];
  const mode = tls.mode === 'required' ? 'REQUIRED' : tls.mode === 'verify-ca' ? 'VERIFY_CA' : 'VERIFY_IDENTITY';
  return [`--ssl-mode=${mode}`, ...ca];
}

/** Where and as whom dolly's own SQL connections reach the source, with the TLS its mode asks for. */
export function sourceConnectOptions(source: { host: string; port: number; user: string; password: string; tls?: SourceTls | undefined }, connectTimeoutMs = 10_000): ConnectOptions {
  const tls = sqlTls(source.tls);
  return { host: source.host, port: source.port, user: source.user, password: source.password, connectTimeoutMs, role: 'source', ...(tls ? { tls } : {}) };
}
