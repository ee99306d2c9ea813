import { spawn, type ChildProcess } from 'node:child_process';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basename, dirname } from 'node:path';
import { toolsRunArgs } from '../docker/tools-container.js';
import { CommandFailedError, FailedPreconditionError, ResourceExhaustedError, SourceError } from '../errors.js';
import { DumpPositionScanner } from './dump-position.js';
import { mysqlTriggerFix } from './dump-fixes.js';
import { flavorOps, type Flavor } from './flavor.js';

export interface CopyDatabasesOptions {
  source: { host: string; port: number; user: string; password: string };
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

export interface CopyResult {
  /** Bytes of SQL streamed from the dump into the target. */
  bytes: number;
  /** The source's GTID position the copy corresponds to (as the dump wrote it; may be ''). */
  gtid: string;
}

/** Tail of stderr kept per child (enough for the last lines; stderr never holds a password). */
const STDERR_KEEP = 16 * 1024;
const KILL_GRACE_MS = 2000;

interface Child {
  name: string;
  proc: ChildProcess;
  stderr: string;
  killedByUs: boolean;
  /** Order in which the children exited (0 first), -1 while running. */
  exitOrder: number;
  spawnError: Error | null;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
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
  const dumpArgs = [
    '--no-defaults', '--protocol=TCP', `--host=${opts.source.host}`, `--port=${opts.source.port}`, `--user=${opts.source.user}`,
    '--max-allowed-packet=1G', ...ops.dumpArgs(opts.databases),
  ];
  const socketPath = opts.toolsImage ? `${TOOLS_SOCKET_DIR}/${basename(opts.target.socketPath)}` : opts.target.socketPath;
  const clientArgs = ['--no-defaults', `--socket=${socketPath}`, `--user=${opts.target.user}`, '--max-allowed-packet=1G', '--batch'];
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
  const watch = (child: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
    child.exit.then((r) => {
      if (r.code !== 0) killBoth();
      return r;
    });
  const [dumpExit, loadExit, pipeError] = await Promise.all([watch(dump), watch(load), piped]);
  opts.signal?.removeEventListener('abort', onAbort);
  opts.signal?.throwIfAborted();

  for (const child of [dump, load]) {
    if (child.spawnError) {
      throw new FailedPreconditionError(`cannot run ${child.name}: ${child.spawnError.message}`, {
        hint: 'install the MariaDB/MySQL client tools on this host (Debian: apt-get install mariadb-client)',
        cause: child.spawnError,
      });
    }
  }
  const root = rootCause({ child: dump, exit: dumpExit }, { child: load, exit: loadExit });
  if (root === dump) throw dumpError(dump, dumpExit.code, opts);
  if (root === load) throw loadError(load, loadExit.code);
  if (pipeError !== null) throw new CommandFailedError(`${dump.name} | ${load.name}`, null, String(pipeError), { cause: pipeError });
  if (scanner.position === null) {
    throw new SourceError(`the dump of ${opts.source.host}:${opts.source.port} carried no GTID position`, {
      hint: 'the source needs a binary log with GTIDs (log_bin; on MySQL gtid_mode=ON)',
    });
  }
  return { bytes, gtid: scanner.position };
}

/** Where the target's socket directory is mounted in a tools container. */
const TOOLS_SOCKET_DIR = '/run/dolly';

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

/**
 * Which failure to report. A full target first (definitive); then the child that failed first on
 * its own: a dead client breaks the dump's pipe after it, a failed dump truncates the client's
 * input after it. Children ended by our own signal, and a dump that only lost its pipe, are effects.
 */
function rootCause(dump: Outcome, load: Outcome): Child | undefined {
  const failed = [dump, load].filter(({ child, exit }) => exit.code !== 0 && !(exit.signal !== null && child.killedByUs));
  if (failed.includes(load) && DISK_FULL.test(load.child.stderr)) return load.child;
  const causes = failed.length > 1 && BROKEN_PIPE.test(dump.child.stderr) ? [load] : failed;
  causes.sort((a, b) => a.child.exitOrder - b.child.exitOrder);
  return causes[0]?.child;
}

type Outcome = { child: Child; exit: { code: number | null; signal: NodeJS.Signals | null } };

const DISK_FULL = /errno: 28|Errcode: 28|No space left|ERROR 1114|ERROR 1021|is full/i;
const BROKEN_PIPE = /errno 32|Broken pipe|EPIPE|I\/O error|write error/i;

function startChild(command: string, args: string[], password: string, stdin: 'ignore' | 'pipe', exits: { count: number }): Child {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('MYSQL_')) env[key] = value;
  if (password !== '') env.MYSQL_PWD = password;
  const proc = spawn(command, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
  const child: Child = { name: command, proc, stderr: '', killedByUs: false, exitOrder: -1, spawnError: null, exit: Promise.resolve({ code: null, signal: null }) };
  proc.on('exit', () => {
    child.exitOrder = exits.count++;
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (text: string) => {
    child.stderr = (child.stderr + text).slice(-STDERR_KEEP);
  });
  child.exit = new Promise((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (!done) resolve({ code, signal });
      done = true;
    };
    proc.on('error', (error) => {
      child.spawnError = error;
      finish(null, null);
    });
    proc.on('close', finish);
  });
  // The client's stdin may break when the client dies; the pipeline reports it.
  proc.stdin?.on('error', () => undefined);
  return child;
}

function kill(child: Child): void {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null || child.spawnError) return;
  child.killedByUs = true;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  }, KILL_GRACE_MS);
  timer.unref();
}

function dumpError(dump: Child, code: number | null, opts: CopyDatabasesOptions): SourceError {
  const failure = new CommandFailedError(dump.name, code, dump.stderr);
  const tail = lastLine(dump.stderr);
  return new SourceError(`copying from ${opts.source.host}:${opts.source.port} failed: ${tail || `${dump.name} exited with ${code ?? 'a signal'}`}`, {
    hint: /access denied/i.test(tail)
      ? 'the source user lacks a privilege the dump needs (dolly checks them first: run the source check again)'
      : 'check that the source stays reachable while the copy runs; the half-made replica is removed',
    cause: failure,
  });
}

function loadError(load: Child, code: number | null): Error {
  const failure = new CommandFailedError(`${load.name} (loading into the replica)`, code, load.stderr);
  if (DISK_FULL.test(load.stderr)) {
    return new ResourceExhaustedError(`the replica ran out of space while loading the copy: ${lastLine(load.stderr)}`, {
      hint: 'grow the pool (or choose fewer databases) and run replica init again',
      cause: failure,
    });
  }
  return failure;
}

function lastLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).at(-1) ?? '';
}
