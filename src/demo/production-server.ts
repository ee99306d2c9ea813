import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { isDockerConflict, isDockerNotFound, type DockerClient } from '../docker/client.js';
import { AlreadyExistsError, DollyError, UnavailableError, messageOf } from '../errors.js';
import { labelsFor } from '../labels.js';
import { quoteAccount, quoteString } from '../mysql/identifiers.js';
import { serverCommandLine } from '../mysql/server-args.js';
import { connectSql, type ConnectOptions, type SqlClient } from '../mysql/sql-client.js';
import { waitForServer } from '../mysql/wait-ready.js';
import { containerName } from '../runtime/docker-runtime.js';
import { freePort } from '../free-port.js';

export { fillSampleData, type SampleDataOptions } from './sample-data.js';
export { startLoadEmulator, type LoadEmulator, type LoadEmulatorOptions } from '../mysql/load-emulator.js';

export interface ProductionServerOptions {
  docker: DockerClient;
  /** dolly's root: the container is labelled with it (kind `source`), so teardown finds it. */
  root: string;
  image: string;
  /** TCP port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** Default 1. */
  serverId?: number;
  rootPassword: string;
  name: string;
  /** The image's server (default mariadb): MySQL runs with GTID mode on. */
  flavor?: 'mariadb' | 'mysql';
  /** More server flags (e.g. `--ssl-cert=/dolly-init/server.pem`). */
  extraArgs?: string[];
  /** More files put into /dolly-init before the start (name → content; 0600, root's). */
  files?: Record<string, string>;
  /** How `sql()` and the readiness check connect (a server that requires TLS). */
  tls?: ConnectOptions['tls'];
}

/** A running "production" MariaDB: binlog, GTID, row format, root reachable over TCP on 127.0.0.1. */
export interface ProductionServer extends AsyncDisposable {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly containerId: string;
  /** How to connect as root (role `source`). */
  readonly connectOptions: ConnectOptions;
  /** A new root connection over TCP; the caller closes it. */
  sql(): Promise<SqlClient>;
  /** Removes the container and its data (the datadir lives in the container). Idempotent. */
  stop(): Promise<void>;
}

const DATADIR = '/var/lib/mysql';
const INIT_DIR = '/dolly-init';
const READY_TIMEOUT_MS = 120_000;

/** Run at every start: root over TCP with the password, kept out of the binlog (and so out of GTIDs). */
function initSql(password: string): string {
  const lines = ['SET sql_log_bin = 0;'];
  for (const host of ['127.0.0.1', '%']) {
    const account = quoteAccount('root', host);
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${quoteString(password)};`,
      `ALTER USER ${account} IDENTIFIED BY ${quoteString(password)};`,
      `GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The server: binlog with GTIDs, root over TCP on 127.0.0.1, its init file copied into the
 * container. A demo source: fast bulk loading matters more than surviving a power cut.
 */
function serverCommand(flavor: 'mariadb' | 'mysql', port: number, serverId: number, extraArgs: readonly string[]): string[] {
  return serverCommandLine(
    { flavor, serverId, role: 'source', binlog: { durable: false }, maxAllowedPacket: '256M', initFile: true, args: extraArgs },
    { datadir: DATADIR, runDir: '/run/dolly', initFile: `${INIT_DIR}/init.sql` },
    { port, bindAddress: '127.0.0.1' },
  );
}

/**
 * Starts a MariaDB "production" server in Docker (host networking, bound to 127.0.0.1 only). The
 * datadir is initialised inside the container on its first start; the root password reaches the
 * server through an init file copied into the container before it starts (0600, in the container's
 * own layer: no file on the host holds it, so a killed caller leaves none behind, and a restart
 * reads it again). Waits until it answers; on failure removes what it made.
 */
export async function startProductionServer(opts: ProductionServerOptions): Promise<ProductionServer> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOn(opts, opts.port ?? (await freePort()));
    } catch (error) {
      // A port picked here may be taken by someone else before the server binds it: pick another.
      const taken = error instanceof DollyError && /already in use|another server running on port/i.test(error.hint ?? '');
      if (!taken || opts.port !== undefined || attempt >= 3) throw error;
    }
  }
}

async function startOn(opts: ProductionServerOptions, port: number): Promise<ProductionServer> {
  const name = containerName(opts.root, opts.name);
  const connectOptions: ConnectOptions = { host: '127.0.0.1', port, user: 'root', password: opts.rootPassword, role: 'source', ...(opts.tls ? { tls: opts.tls } : {}) };
  let container: Docker.Container | undefined;
  try {
    container = await create(opts, name, {
      name,
      Image: opts.image,
      Cmd: serverCommand(opts.flavor ?? 'mariadb', port, opts.serverId ?? 1, opts.extraArgs ?? []),
      Labels: { ...labelsFor(opts.root, 'source', opts.name), 'dolly.port': String(port) },
      HostConfig: { NetworkMode: 'host', RestartPolicy: { Name: 'no' } },
    });
    await container.putArchive(await initArchive({ ...opts.files, 'init.sql': initSql(opts.rootPassword) }), { path: '/' });
    await container.start();
    const started = container;
    await waitForServer(connectOptions, { timeoutMs: READY_TIMEOUT_MS, alive: async () => (await started.inspect()).State.Running });
  } catch (error) {
    const logs = container ? await logTail(container) : '';
    await container?.remove({ force: true, v: true }).catch(() => undefined);
    if (error instanceof DollyError && logs === '') throw error;
    throw new UnavailableError(`the production server ${opts.name} did not start: ${messageOf(error)}`, {
      hint: logs === '' ? 'see `docker logs` of the container' : `its log says: ${logs}`,
      cause: error,
    });
  }
  const containerId = container.id;
  const docker = opts.docker;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await docker.getContainer(containerId).remove({ force: true, v: true });
    } catch (error) {
      if (!isDockerNotFound(error) && !isDockerConflict(error)) throw error;
    }
  };
  return {
    host: '127.0.0.1',
    port,
    containerId,
    connectOptions,
    sql: () => connectSql(connectOptions),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A tar of `INIT_DIR/init.sql` and any other files (directory 0700, files 0600, owned by root) for the container's root. */
async function initArchive(files: Record<string, string>): Promise<Buffer> {
  const archive = pack();
  const dir = INIT_DIR.replace(/^\//, '');
  archive.entry({ name: dir, type: 'directory', mode: 0o700, uid: 0, gid: 0 });
  for (const [name, content] of Object.entries(files)) archive.entry({ name: `${dir}/${name}`, mode: 0o600, uid: 0, gid: 0 }, content);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function create(opts: ProductionServerOptions, name: string, spec: Docker.ContainerCreateOptions): Promise<Docker.Container> {
  try {
    return await opts.docker.createContainer(spec);
  } catch (error) {
    if (isDockerConflict(error)) {
      throw new AlreadyExistsError(`a container named ${name} already exists`, { hint: `remove it (docker rm -f ${name}) or choose another name`, cause: error });
    }
    throw error;
  }
}

async function logTail(container: Docker.Container): Promise<string> {
  try {
    const raw = await container.logs({ stdout: true, stderr: true, tail: 30, follow: false });
    const lines = demux(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    // The telling line is the last [ERROR] before the closing "Aborting".
    return lines.filter((l) => l.includes('[ERROR]') && !l.endsWith('Aborting')).at(-1) ?? lines.at(-1) ?? '';
  } catch {
    return '';
  }
}

/** Docker's log stream without a TTY: frames of an 8-byte header (stream, size) and a payload. */
function demux(buffer: Buffer): string {
  let text = '';
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    const stream = buffer[offset] ?? 255;
    if (stream > 2 || offset + 8 + size > buffer.length) return buffer.toString('utf8');
    text += buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    offset += 8 + size;
  }
  return text;
}
