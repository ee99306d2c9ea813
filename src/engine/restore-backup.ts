import { spawn } from 'node:child_process';
import { chown, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CommandFailedError, FailedPreconditionError, ResourceExhaustedError, messageOf } from '../errors.js';
import { BACKUP_POSITION_FILES, parseBackupPosition, type BackupPosition } from '../mysql/backup-position.js';
import { SERVER_UID } from '../docker/server-user.js';
import { CONTAINER_DATADIR } from '../runtime/container-layout.js';
import type { Shell } from '../shell.js';
import { toolsRunArgs } from '../docker/tools-container.js';
import { mapNoSpace } from '../storage/driver-errors.js';

/** Where a physical backup comes from: an `xbstream` stream (e.g. stdin), or a directory of one. */
export type BackupInput = { kind: 'stream'; stream: Readable } | { kind: 'directory'; path: string };

export interface RestoreBackupOptions {
  input: BackupInput;
  /** The empty pool volume, as a host path: the backup is unpacked and prepared in it. */
  target: string;
  /** The replica's image: its `mbstream` and `mariadb-backup` unpack and prepare the backup. */
  image: string;
  /** Labels of the throwaway containers (the root's), so a teardown finds one a crash left. */
  labels: Record<string, string>;
  /**
   * Names of the two throwaway containers (unpack, prepare): the caller journals their removal,
   * so a crash that leaves one running is undone like any other step of the job.
   */
  names: { unpack: string; prepare: string };
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface RestoreBackupResult {
  /** Bytes read from the stream, or copied from the directory. */
  bytes: number;
  position: BackupPosition;
}

const STDERR_KEEP = 16 * 1024;
/** How mbstream and mariadb-backup say ENOSPC. */
const DISK_FULL = /errno 28|Errcode: 28|No space left|error 28/i;
const NO_SPACE_HINT = 'grow the pool (`dolly init --size`) or free space in it';

/**
 * Turns a `mariadb-backup` backup into a datadir in the pool volume `target`: a stream is
 * unpacked by `mbstream -x`, a directory is copied (reflinked where the file system can), then
 * `mariadb-backup --prepare` makes it consistent (applies the redo log). Both run in a throwaway
 * container of the replica's image, as the server's user, with no network and no capabilities,
 * so the prepared files belong to the server and the tools match its version. Returns the
 * source's position the backup recorded; a backup that records none is refused (replication could
 * not start from it). On failure the volume is half-filled: the caller removes it.
 */
export async function restoreBackup(opts: RestoreBackupOptions, shell: Shell): Promise<RestoreBackupResult> {
  opts.signal?.throwIfAborted();
  const input = opts.input;
  let bytes = 0;
  if (input.kind === 'directory') {
    const found = await Promise.all(['xtrabackup_checkpoints', 'mariadb_backup_checkpoints'].map((f) => readFile(join(input.path, f), 'utf8').then(() => true, () => false)));
    if (!found.some(Boolean)) {
      throw new FailedPreconditionError(`${input.path} is not a mariadb-backup backup (no xtrabackup_checkpoints)`, { hint: 'give the --target-dir of `mariadb-backup --backup`, or stream one: `mariadb-backup --backup --stream=xbstream | dolly replica init --method backup --backup -`' });
    }
    const du = await shell.run('du', ['-sb', input.path]);
    bytes = Number(du.stdout.split('\t')[0] ?? 0);
    await shell.run('cp', ['-a', '--reflink=auto', `${input.path}/.`, `${opts.target}/`]).catch((error: unknown) => {
      throw mapNoSpace(error, 'the backup was copied into it', NO_SPACE_HINT);
    });
    await shell.run('chown', ['-R', `${SERVER_UID}:${SERVER_UID}`, opts.target]);
  } else {
    // The tools run as the server's user: the (empty) volume becomes theirs first.
    await chown(opts.target, SERVER_UID, SERVER_UID);
    bytes = await inTools(opts, opts.names.unpack, UNPACK_SCRIPT, input.stream);
  }
  // Before the (long) prepare: without a position, replication could not start from this backup.
  const position = await readBackupPosition(opts.target);
  if (!position) throw noPositionError();
  await inTools(opts, opts.names.prepare, PREPARE_SCRIPT, null);
  return { bytes, position };
}

/** The unpack step (sh, `$0` = the directory): an xbstream on stdin into it. */
export const UNPACK_SCRIPT = 'mbstream -x -C "$0"';
/** The prepare step (sh, `$0` = the directory): its log's tail on stderr when it fails. */
export const PREPARE_SCRIPT = 'mariadb-backup --prepare --target-dir="$0" > /tmp/prepare.log 2>&1 || { tail -n 20 /tmp/prepare.log >&2; exit 1; }';

/** A backup that records no position: replication could not start from it. */
export function noPositionError(): FailedPreconditionError {
  return new FailedPreconditionError('the backup records no binary log position (no xtrabackup_binlog_info): replication could not start from it', {
    hint: 'take the backup from a source with log_bin on, with `mariadb-backup --backup` (not --no-lock or --safe-slave-backup on a server without binlog)',
  });
}

/** The position file a backup in `dir` wrote (its newest name first); null when it has none. */
export async function readBackupPosition(dir: string): Promise<BackupPosition | null> {
  for (const name of BACKUP_POSITION_FILES) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => null);
    if (text !== null) return parseBackupPosition(text);
  }
  return null;
}

/**
 * Runs `script` (sh, `$0` = the datadir) in a throwaway container of the image, the volume
 * mounted at the datadir; `input` is piped to its stdin. Returns the bytes piped.
 */
async function inTools(opts: RestoreBackupOptions, name: string, script: string, input: Readable | null): Promise<number> {
  const args = toolsRunArgs({ image: opts.image, labels: opts.labels, name, network: 'none', tmp: true, mount: { source: opts.target, target: CONTAINER_DATADIR }, entrypoint: 'sh', args: ['-c', script, CONTAINER_DATADIR] });
  const child = spawn('docker', args, { stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_KEEP);
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const onAbort = (): void => {
    child.kill('SIGTERM');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let bytes = 0;
  try {
    let piped: Promise<unknown> = Promise.resolve(null);
    if (input && child.stdin) {
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          opts.onProgress?.(bytes);
          callback(null, chunk);
        },
      });
      piped = pipeline(input, counter, child.stdin).catch((error: unknown) => {
        child.kill('SIGTERM');
        return error;
      });
    }
    const [code, pipeError] = await Promise.all([exit, piped]);
    opts.signal?.throwIfAborted();
    if (code !== 0) {
      if (DISK_FULL.test(stderr)) throw new ResourceExhaustedError('no space left in the pool while the backup was unpacked into it', { hint: NO_SPACE_HINT });
      const tool = script.split(' ')[0] ?? 'sh';
      if (/not found/.test(stderr) && /mbstream|mariadb-backup/.test(stderr)) {
        throw new FailedPreconditionError(`the image ${opts.image} has no ${tool}`, { hint: 'use a dolly image (`dolly images build`), which has mariadb-backup' });
      }
      const hint = tool === 'mbstream' ? 'the input must be the output of `mariadb-backup --backup --stream=xbstream`, complete' : 'see the lines above; the backup may be damaged or made by another version';
      throw new CommandFailedError(`${tool} (in the replica's image)`, code, stderr, { hint });
    }
    if (pipeError) throw new CommandFailedError('reading the backup stream', null, messageOf(pipeError), { cause: pipeError, hint: 'the program writing the stream stopped early: see its own error' });
    return bytes;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
