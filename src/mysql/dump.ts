import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basename, dirname } from 'node:path';
import { toolsRunArgs } from '../docker/tools-container.js';
import { SourceError } from '../errors.js';
import { kill, loaderArgs, pipeFailure, sourceArgs, startChild, type Child, type Exit } from './dump-pipe.js';
import { DumpPositionScanner } from './dump-position.js';
import { mysqlTriggerFix } from './dump-fixes.js';
import { flavorOps, type Flavor } from './flavor.js';
import { clientTlsArgs, type SourceTls } from './source-tls.js';

export interface CopyDatabasesOptions {
  source: CopySource;
  databases: string[];
  flavor: Flavor;
  /** The empty server that receives the copy, reached over its unix socket. */
  target: { socketPath: string; user: string; password: string };
  /** Bytes of dump streamed so far (called per chunk; throttle in the caller). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /** Other programs than the flavor's dump and client (tests). */
  binaries?: { dump: string; client: string };
  /**
   * Run the dump and the client from this image instead of the host (MySQL's `mysqldump` and
   * `mysql` are not the host's MariaDB tools): each in a throwaway container with the host's
   * network, no capabilities, as the server user, the target's socket directory mounted.
   */
  toolsImage?: string;
  /** Labels of those containers (the root's), so a teardown finds one a crash left running. */
  toolsLabels?: Record<string, string>;
}

/** The source a copy reads, and how its dump programs reach it over TLS. */
export interface CopySource {
  host: string;
  port: number;
  user: string;
  password: string;
  tls?: SourceTls;
  /**
   * The CA file on the host (verify modes). A dump in a tools container reads it from the mounted
   * socket directory, so it must lie there.
   */
  caFile?: string;
}

export interface CopyResult {
  /** Bytes of SQL streamed from the dump into the target. */
  bytes: number;
  /** The source's GTID position the copy corresponds to (as the dump wrote it; may be ''). */
  gtid: string;
}

/**
 * Streams a consistent logical copy of `databases` from the source into the target: the host's
 * dump program piped into its client, both started with --no-defaults and passwords only in each
 * child's MYSQL_PWD. Captures the GTID position from the dump stream. On failure or abort both
 * children are killed; the target is then half-filled and must be thrown away by the caller.
 */
export async function copyDatabases(opts: CopyDatabasesOptions): Promise<CopyResult> {
  opts.signal?.throwIfAborted();
  const ops = flavorOps(opts.flavor);
  const socketPath = opts.toolsImage ? `${TOOLS_SOCKET_DIR}/${basename(opts.target.socketPath)}` : opts.target.socketPath;
  const dumpArgs = [...sourceArgs(opts.source), ...clientTlsArgs(opts.flavor, opts.source.tls, caFileSeen(opts)), ...ops.dumpArgs(opts.databases)];
  const clientArgs = loaderArgs(socketPath, opts.target.user);
  const exits = { count: 0 };
  const [dumpCommand, dumpFull] = inTools(opts, opts.binaries?.dump ?? ops.dumpBinary, dumpArgs);
  const [clientCommand, clientFull] = inTools(opts, opts.binaries?.client ?? ops.clientBinary, clientArgs);
  const dump = startChild(dumpCommand, dumpFull, opts.source.password, 'ignore', exits);
  const load = startChild(clientCommand, clientFull, opts.target.password, 'pipe', exits);
  dump.name = opts.binaries?.dump ?? ops.dumpBinary;
  load.name = opts.binaries?.client ?? ops.clientBinary;
  const killBoth = (): void => {
    for (const child of [dump, load]) kill(child);
  };
  const onAbort = (): void => killBoth();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const scanner = new DumpPositionScanner(ops.dumpPositionMarker, ops.parseDumpPosition);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      scanner.push(chunk);
      opts.onProgress?.(bytes);
      callback(null, chunk);
    },
  });
  // MySQL's own dump of a trigger that kept its terminating ';' does not load: mended on the way.
  const stages = opts.flavor === 'mysql' ? [counter, mysqlTriggerFix()] : [counter];
  const piped = dump.proc.stdout && load.proc.stdin
    ? pipeline([dump.proc.stdout, ...stages, load.proc.stdin]).then(
        () => null,
        (e: unknown) => {
          killBoth();
          return e;
        },
      )
    : Promise.resolve(null);
  // A child that fails takes the other down with it.
  const watch = (child: Child): Promise<Exit> =>
    child.exit.then((r) => {
      if (r.code !== 0) killBoth();
      return r;
    });
  const [dumpExit, loadExit, pipeError] = await Promise.all([watch(dump), watch(load), piped]);
  opts.signal?.removeEventListener('abort', onAbort);
  opts.signal?.throwIfAborted();

  const failure = pipeFailure({ child: dump, exit: dumpExit }, { child: load, exit: loadExit }, pipeError, opts.source);
  if (failure) throw failure;
  if (scanner.position === null) {
    throw new SourceError(`the dump of ${opts.source.host}:${opts.source.port} carried no GTID position`, {
      hint: 'the source needs a binary log with GTIDs (log_bin; on MySQL gtid_mode=ON)',
    });
  }
  return { bytes, gtid: scanner.position };
}

/** Where the target's socket directory is mounted in a tools container. */
const TOOLS_SOCKET_DIR = '/run/dolly';

/** The CA file as the dump program sees it: the host path, or its place in a tools container's mount. */
function caFileSeen(opts: CopyDatabasesOptions): string | undefined {
  const { caFile } = opts.source;
  if (caFile === undefined || !opts.toolsImage) return caFile;
  if (dirname(caFile) !== dirname(opts.target.socketPath)) throw new Error(`the source CA ${caFile} must lie in ${dirname(opts.target.socketPath)} to reach the dump's container`);
  return `${TOOLS_SOCKET_DIR}/${basename(caFile)}`;
}

/** The command line of a program, on the host or in a throwaway container of `toolsImage` (MYSQL_PWD passed by name, never by value). */
function inTools(opts: CopyDatabasesOptions, program: string, args: string[]): [string, string[]] {
  if (!opts.toolsImage) return [program, args];
  const run = toolsRunArgs({
    image: opts.toolsImage,
    labels: opts.toolsLabels ?? {},
    network: 'host',
    env: ['MYSQL_PWD'],
    mount: { source: dirname(opts.target.socketPath), target: TOOLS_SOCKET_DIR },
    entrypoint: program,
    args,
  });
  return ['docker', run];
}

