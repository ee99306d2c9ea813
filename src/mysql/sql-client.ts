import { isIP } from 'node:net';
import { checkServerIdentity, TLSSocket } from 'node:tls';
import { createConnection, type Connection } from 'mysql2/promise';
import {
  DollyError,
  FailedPreconditionError,
  ResourceExhaustedError,
  SourceError,
  UnavailableError,
} from '../errors.js';
import { quoteAccount, quoteString } from './identifiers.js';

/**
 * One SQL connection (the port every part of dolly receives; mysql2 lives only in this adapter).
 * Statements run over the text protocol, one statement per call; `?` placeholders are filled in
 * client-side by mysql2's escaper. Errors are DollyErrors whose `cause` is the driver's error
 * (read it with describeSqlError). `close()` is idempotent.
 */
export interface SqlClient {
  /** Runs one statement and returns its rows (an empty list for statements without a result set). */
  query<T extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs one statement and ignores its result. */
  execute(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** Where and as whom to connect: TCP (`host`, `port`) or a unix socket (`socketPath`). */
/** What a mysql2 connection does about TLS (see ConnectOptions.tls). */
export interface SqlTls {
  /** PEM; the certificate must chain to it when `verify` is not `none`. */
  ca?: string;
  /** `none`: encrypted, unverified; `ca`: the chain; `identity`: the chain and the host name. */
  verify: 'none' | 'ca' | 'identity';
}

export interface ConnectOptions {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password: string;
  database?: string;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Each statement fails after this long (default: no limit; a dump or an ALTER may take hours). */
  queryTimeoutMs?: number;
  /**
   * Whose server this is, for error messages and categories: `source` (production: failures are
   * SourceErrors) or `server` (one dolly runs: replica, clone; the default).
   */
  role?: 'source' | 'server';
  /** Connect over TLS (TCP only); a server that does not offer it fails the connection. Absent: no TLS. */
  tls?: SqlTls;
}

/** The driver-level facts of an SQL error: `code` (`ER_DUP_ENTRY`, `ECONNREFUSED`, ...), server errno, message. */
export interface SqlErrorInfo {
  code: string;
  errno: number | null;
  message: string;
}

/** How long `close()` waits for the server to acknowledge the QUIT before it drops the socket. */
const CLOSE_TIMEOUT_MS = 2_000;

/** Opens one connection (mysql2/promise, `multipleStatements: false`). */
export async function connectSql(opts: ConnectOptions): Promise<SqlClient> {
  let conn: Connection;
  try {
    conn = await createConnection({
      ...(opts.socketPath !== undefined ? { socketPath: opts.socketPath } : { host: opts.host ?? '127.0.0.1', port: opts.port ?? 3306 }),
      user: opts.user,
      password: opts.password,
      ...(opts.database !== undefined ? { database: opts.database } : {}),
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      multipleStatements: false,
      supportBigNumbers: true,
      ...(opts.tls !== undefined ? { ssl: sslOptions(opts.tls) } : {}),
    });
  } catch (error) {
    throw mapSqlError(error, opts, 'connect');
  }
  if (opts.tls?.verify === 'identity') {
    const mismatch = identityMismatch(conn, opts.host ?? '127.0.0.1');
    if (mismatch) {
      conn.destroy();
      throw mapSqlError(mismatch, opts, 'connect');
    }
  }
  // A connection that dies while idle emits 'error'; the next statement reports it.
  conn.on('error', () => undefined);
  let closed = false;
  const run = async (sql: string, params?: unknown[]): Promise<unknown> => {
    try {
      const [rows] = await conn.query(opts.queryTimeoutMs === undefined ? { sql, values: params } : { sql, values: params, timeout: opts.queryTimeoutMs });
      return rows;
    } catch (error) {
      // A statement that timed out still waits for its answer: the connection is of no more use
      // (a polite QUIT would queue behind it, and wait as long as the server hangs).
      if (isSqlError(error, 'PROTOCOL_SEQUENCE_TIMEOUT')) {
        closed = true;
        conn.destroy();
      }
      throw mapSqlError(error, opts, 'query');
    }
  };
  return {
    async query<T extends object>(sql: string, params?: unknown[]): Promise<T[]> {
      const rows = await run(sql, params);
      return Array.isArray(rows) ? (rows as T[]) : [];
    },
    async execute(sql: string, params?: unknown[]): Promise<void> {
      await run(sql, params);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // A server that stopped answering never acknowledges the QUIT: the socket is dropped instead.
      let timer: NodeJS.Timeout | undefined;
      const gone = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)));
      try {
        if ((await Promise.race([conn.end(), gone])) === 'timeout') conn.destroy();
      } catch {
        conn.destroy();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * mysql2's `ssl`: `none` encrypts without checking the certificate; `ca` checks its chain but not
 * the name in it (Node's host name check turned off); `identity` checks both.
 */
function sslOptions(tls: SqlTls): { ca?: string; rejectUnauthorized: boolean; verifyIdentity: boolean; checkServerIdentity?: () => undefined } {
  if (tls.verify === 'none') return { rejectUnauthorized: false, verifyIdentity: false };
  const ca = tls.ca !== undefined ? { ca: tls.ca } : {};
  if (tls.verify === 'ca') return { ...ca, rejectUnauthorized: true, verifyIdentity: false, checkServerIdentity: () => undefined };
  return { ...ca, rejectUnauthorized: true, verifyIdentity: true };
}

/**
 * mysql2 checks a host given as an IP address against the name `localhost` (Node's default when
 * it has no server name), so the certificate's names are checked again here against the address
 * itself; null when they hold it (or the host is a name, which mysql2 checked already).
 */
function identityMismatch(conn: Connection, host: string): Error | null {
  if (isIP(host) === 0) return null;
  const core: unknown = (conn as unknown as { connection?: unknown }).connection;
  const stream: unknown = typeof core === 'object' && core !== null && 'stream' in core ? core.stream : undefined;
  if (!(stream instanceof TLSSocket)) return Object.assign(new Error('the connection is not TLS'), { code: 'HANDSHAKE_SSL_ERROR' });
  const failure = checkServerIdentity(host, stream.getPeerCertificate());
  return failure === undefined ? null : Object.assign(new Error(failure.message), { code: 'HANDSHAKE_SSL_ERROR' });
}

/** `host:port` or the socket path, for messages. */
export function endpointOf(opts: Pick<ConnectOptions, 'host' | 'port' | 'socketPath'>): string {
  if (opts.socketPath !== undefined) return opts.socketPath;
  return `${opts.host ?? '127.0.0.1'}:${opts.port ?? 3306}`;
}

/** Finds the driver error in `e` or its cause chain; null when there is none. */
export function describeSqlError(e: unknown): SqlErrorInfo | null {
  let current: unknown = e;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const o = current as { code?: unknown; errno?: unknown; sqlMessage?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (!(current instanceof DollyError) && typeof o.code === 'string') {
      const errno = typeof o.errno === 'number' && o.errno > 0 ? o.errno : null;
      const raw = typeof o.sqlMessage === 'string' ? o.sqlMessage : typeof o.message === 'string' ? o.message : o.code;
      return { code: o.code, errno, message: redact(raw, o.code) };
    }
    // Node's AggregateError (several addresses tried) carries the codes in `errors`.
    if (Array.isArray(o.errors) && o.errors.length > 0) current = o.errors[0];
    else current = o.cause;
  }
  return null;
}

/** True when `e` (or its cause) is the SQL error `code` (`ER_DUP_ENTRY`) or errno (1062). */
export function isSqlError(e: unknown, code: string | number): boolean {
  const info = describeSqlError(e);
  return info !== null && (info.code === code || info.errno === code);
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOENT: 'no socket at that path',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  PROTOCOL_CONNECTION_LOST: 'connection lost',
  ER_CON_COUNT_ERROR: 'too many connections',
  ER_SERVER_SHUTDOWN: 'server is shutting down',
};

/** Why a TLS connection failed, for a message; null when `code` is no TLS failure. */
function tlsFailure({ code, message }: SqlErrorInfo): string | null {
  if (/secure transport/i.test(message)) return 'the server accepts only TLS connections';
  if (code === 'HANDSHAKE_SSL_ERROR') {
    // mysql2 wraps Node's TLS error: its message says which check failed.
    if (/altnames|does not match certificate|not in the cert/i.test(message)) return "the server's certificate does not name this host";
    if (/expired|not yet valid/i.test(message)) return "the server's certificate is not valid now";
    if (/self.signed|unable to (verify|get)|signature/i.test(message)) return "the server's certificate is not signed by the given CA";
    return `the TLS handshake failed: ${message}`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return "the server's certificate does not name this host";
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT') return 'the server does not offer TLS';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return "the server's certificate is not valid now";
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return "the server's certificate is not signed by the given CA";
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return 'the TLS handshake failed';
  return null;
}

const ACCESS = new Set(['ER_SPECIFIC_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR', 'ER_COLUMNACCESS_DENIED_ERROR', 'ER_PROCACCESS_DENIED_ERROR']);

/**
 * The one place mysql2 errors become DollyErrors. Unreachable → SourceError (source) or
 * UnavailableError; wrong credentials → SourceError / FailedPreconditionError naming the user,
 * never the password; a full disk → ResourceExhaustedError; anything else keeps the server's
 * message (syntax errors cut before the echoed statement, which may hold a password).
 */
export function mapSqlError(error: unknown, opts: ConnectOptions, phase: 'connect' | 'query'): DollyError {
  if (error instanceof DollyError) return error;
  const info = describeSqlError(error) ?? { code: 'UNKNOWN', errno: null, message: error instanceof Error ? error.message : String(error) };
  const source = opts.role === 'source';
  const where = `${source ? 'the source' : 'the server'} at ${endpointOf(opts)}`;
  const fail = (message: string, hint: string): DollyError =>
    source ? new SourceError(message, { hint, cause: error }) : new FailedPreconditionError(message, { hint, cause: error });
  if (info.code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
    const limit = opts.queryTimeoutMs === undefined ? '' : ` within ${opts.queryTimeoutMs / 1000} s`;
    const message = `${where} did not answer${limit}`;
    const hint = source ? 'is the source overloaded or stuck? try again later' : 'is the server stuck or overloaded? `dolly replica status` says whether it answers; its error log is in its run directory';
    return source ? new SourceError(message, { hint, cause: error }) : new UnavailableError(message, { hint, cause: error });
  }
  // mysql2's connect timeout covers the greeting too: a server that accepts and never speaks.
  const reason = info.code === 'ETIMEDOUT' && phase === 'connect' ? `no answer within ${(opts.connectTimeoutMs ?? 10_000) / 1000} s` : UNREACHABLE[info.code];
  if (reason !== undefined) {
    const message = phase === 'connect' ? `cannot connect to ${where}: ${reason}` : `lost ${where}: ${reason}`;
    const hint = source
      ? 'check the host and port, that the server runs and listens on that address (bind-address), and any firewall in between'
      : 'is the server running? `dolly status` shows it; its error log is in its run directory';
    return source ? new SourceError(message, { hint, cause: error }) : new UnavailableError(message, { hint, cause: error });
  }
  const tls = tlsFailure(info);
  if (tls !== null && phase === 'connect') {
    const mode = opts.tls?.verify === 'identity' ? 'verify-identity' : opts.tls?.verify === 'ca' ? 'verify-ca' : 'required';
    const hint =
      tls.includes('does not name this host')
        ? `connect by a name the certificate holds, or use --source-tls verify-ca (the chain only)`
        : info.code === 'HANDSHAKE_NO_SSL_SUPPORT'
          ? 'configure TLS on the server (ssl_cert, ssl_key), or drop --source-tls'
          : /secure transport/i.test(info.message)
            ? 'give --source-tls required (or verify-ca with --source-ca)'
            : `give the CA that signed the server's certificate (--source-ca), or check the certificate (--source-tls ${mode})`;
    return fail(`TLS to ${where} failed: ${tls} (${info.code})`, hint);
  }
  if (info.code === 'ER_ACCESS_DENIED_ERROR' || info.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR') {
    const tlsHint = source && opts.tls === undefined ? '; a source that accepts only TLS answers the same: add --source-tls required or verify-ca' : '';
    return fail(`${where} refused user ${quoteString(opts.user)}: wrong user name or password`, `check the user and password (the password is never shown)${tlsHint}`);
  }
  if (info.code === 'ER_HOST_NOT_PRIVILEGED' || info.code === 'ER_HOST_IS_BLOCKED') {
    return fail(`${where} does not let user '${opts.user}' connect from this host: ${info.message}`, `create the user for this client's address, e.g. CREATE USER ${quoteAccount(opts.user, '%')} ...; for a blocked host run FLUSH HOSTS`);
  }
  if (info.code === 'ER_BAD_DB_ERROR') return fail(`${where}: ${info.message}`, 'check the database name');
  if (ACCESS.has(info.code)) return fail(`${where}: ${info.message}`, 'grant the missing privilege to this user');
  if (info.code === 'ER_RECORD_FILE_FULL' || info.code === 'ER_DISK_FULL' || /Errcode: 28|errno: 28|No space left/i.test(info.message)) {
    return new ResourceExhaustedError(`${where} is out of space: ${info.message}`, { hint: 'free or grow the disk (or pool) the server writes to', cause: error });
  }
  return fail(`${where}: ${info.code}${info.errno !== null ? ` (${info.errno})` : ''}: ${info.message}`, 'see the server message above');
}

/** Drops what a server echoes of the statement (`... near '<sql>' at line 1`), which may hold a secret. */
function redact(message: string, code: string): string {
  if (code !== 'ER_PARSE_ERROR' && !message.includes(' near ')) return message;
  const cut = message.indexOf(' near ');
  return cut < 0 ? message : `${message.slice(0, cut)} (statement not shown)`;
}
