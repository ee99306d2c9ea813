/**
 * The child programs of a logical copy (a dump program, a client loading its output): started
 * with the password only in their own MYSQL_PWD, stopped together, and their failures told apart
 * (which one failed first on its own, and why) as one error with a hint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CommandFailedError, FailedPreconditionError, ResourceExhaustedError, SourceError } from '../errors.js';

/** The dump program's connection to the source (TCP, no option files, the password only in MYSQL_PWD). */
export function sourceArgs(source: { host: string; port: number; user: string }): string[] {
  return ['--no-defaults', '--protocol=TCP', `--host=${source.host}`, `--port=${source.port}`, `--user=${source.user}`, '--max-allowed-packet=1G'];
}

/** The client that loads a dump into the target over its unix socket. */
export function loaderArgs(socketPath: string, user: string): string[] {
  return ['--no-defaults', `--socket=${socketPath}`, `--user=${user}`, '--max-allowed-packet=1G', '--batch'];
}

/** Tail of stderr kept per child (enough for the last lines; stderr never holds a password). */
const STDERR_KEEP = 16 * 1024;
const KILL_GRACE_MS = 2000;

export interface Child {
  name: string;
  proc: ChildProcess;
  stderr: string;
  killedByUs: boolean;
  /** Order in which the children exited (0 first), -1 while running. */
  exitOrder: number;
  spawnError: Error | null;
  exit: Promise<Exit>;
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * Which failure to report. A full target first (definitive); then the child that failed first on
 * its own: a dead client breaks the dump's pipe after it, a failed dump truncates the client's
 * input after it. Children ended by our own signal, and a dump that only lost its pipe, are effects.
 */
export function rootCause(dump: Outcome, load: Outcome): Child | undefined {
  const failed = [dump, load].filter(({ child, exit }) => exit.code !== 0 && !(exit.signal !== null && child.killedByUs));
  if (failed.includes(load) && DISK_FULL.test(load.child.stderr)) return load.child;
  const causes = failed.length > 1 && BROKEN_PIPE.test(dump.child.stderr) ? [load] : failed;
  causes.sort((a, b) => a.child.exitOrder - b.child.exitOrder);
  return causes[0]?.child;
}

export type Outcome = { child: Child; exit: { code: number | null; signal: NodeJS.Signals | null } };

export const DISK_FULL = /errno: 28|Errcode: 28|No space left|ERROR 1114|ERROR 1021|is full/i;
// Node gives children socket pairs, not pipes: a reader that went away is errno 104 (ECONNRESET) too.
export const BROKEN_PIPE = /errno 32|errno 104|Broken pipe|EPIPE|ECONNRESET|Connection reset|I\/O error|write error/i;

export function startChild(command: string, args: string[], password: string, stdin: 'ignore' | 'pipe', exits: { count: number }): Child {
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
  // A loader's stdout is read by no one: drained, so its exit ('close') never waits on it.
  if (stdin === 'pipe') proc.stdout?.resume();
  // The client's stdin may break when the client dies; the pipeline reports it.
  proc.stdin?.on('error', () => undefined);
  return child;
}

export function kill(child: Child): void {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null || child.spawnError) return;
  child.killedByUs = true;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  }, KILL_GRACE_MS);
  timer.unref();
}

export function dumpError(dump: Child, code: number | null, source: { host: string; port: number }): SourceError {
  const failure = new CommandFailedError(dump.name, code, dump.stderr);
  const tail = lastLine(dump.stderr);
  return new SourceError(`copying from ${source.host}:${source.port} failed: ${tail || `${dump.name} exited with ${code ?? 'a signal'}`}`, {
    hint: /access denied/i.test(tail)
      ? 'the source user lacks a privilege the dump needs (dolly checks them first: run the source check again)'
      : 'check that the source stays reachable while the copy runs; the half-made replica is removed',
    cause: failure,
  });
}

export function loadError(load: Child, code: number | null): Error {
  const failure = new CommandFailedError(`${load.name} (loading into the replica)`, code, load.stderr);
  if (DISK_FULL.test(load.stderr)) {
    return new ResourceExhaustedError(`the replica ran out of space while loading the copy: ${lastLine(load.stderr)}`, {
      hint: 'grow the pool (or choose fewer databases) and run replica init again',
      cause: failure,
    });
  }
  return failure;
}

export function lastLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).at(-1) ?? '';
}

/**
 * The error of a finished dump → client pipe, or null when both ended well: a program that could
 * not start, else the root cause of `rootCause`, else a broken pipe between them.
 */
export function pipeFailure(dump: Outcome, load: Outcome, pipeError: unknown, source: { host: string; port: number }): Error | null {
  for (const { child } of [dump, load]) {
    if (child.spawnError) {
      return new FailedPreconditionError(`cannot run ${child.name}: ${child.spawnError.message}`, {
        hint: 'install the MariaDB/MySQL client tools on this host (Debian: apt-get install mariadb-client)',
        cause: child.spawnError,
      });
    }
  }
  const root = rootCause(dump, load);
  if (root === dump.child) return dumpError(dump.child, dump.exit.code, source);
  if (root === load.child) return loadError(load.child, load.exit.code);
  if (pipeError !== null && pipeError !== undefined) return new CommandFailedError(`${dump.child.name} | ${load.child.name}`, null, String(pipeError), { cause: pipeError });
  return null;
}
