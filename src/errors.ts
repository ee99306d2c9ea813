/**
 * dolly's error classes. Every error a user can cause or meet is one of these; the CLI maps the
 * `category` to an exit code in one place (src/cli/exit-codes.ts). Messages are one line, never
 * contain a secret, and carry a `hint` that says what to do next.
 */
export type ErrorCategory =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'permission_denied'
  | 'unauthenticated'
  | 'rate_limited'
  | 'unavailable'
  | 'source'
  | 'command_failed'
  | 'interrupted'
  | 'internal';

export interface DollyErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class DollyError extends Error {
  readonly category: ErrorCategory;
  readonly hint: string | undefined;

  constructor(category: ErrorCategory, message: string, options: DollyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.category = category;
    this.hint = options.hint;
  }
}

/** Bad input: a malformed name, URL, size or flag. */
export class InvalidArgumentError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('invalid_argument', message, options);
  }
}

/** An unknown snapshot, clone, replica or image. */
export class NotFoundError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('not_found', message, options);
  }
}

/** A name that is taken, a second replica, a pool that already exists. */
export class AlreadyExistsError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('already_exists', message, options);
  }
}

/** The world is not in the state the operation needs (no pool, a snapshot still in use, ...). */
export class FailedPreconditionError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('failed_precondition', message, options);
  }
}

/** Out of ports, out of disk. */
export class ResourceExhaustedError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('resource_exhausted', message, options);
  }
}

/** Needs root (mount, loop devices, btrfs). */
export class PermissionDeniedError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('permission_denied', message, options);
  }
}

/** No token, or a wrong or revoked one (the engine's API). */
export class UnauthenticatedError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('unauthenticated', message, options);
  }
}

/** Too many requests for a while (the engine's per-token rate limits): asking again later works. */
export class RateLimitedError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('rate_limited', message, options);
  }
}

/** The Docker engine (or another daemon dolly needs) does not answer. */
export class UnavailableError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('unavailable', message, options);
  }
}

/** The source database refused, lacks a setting or a privilege, or replication failed. */
export class SourceError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('source', message, options);
  }
}

/** A child process failed; carries its exit code and the tail of its stderr. */
export class CommandFailedError extends DollyError {
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(command: string, exitCode: number | null, stderr: string, options: DollyErrorOptions = {}) {
    const tail = lastLine(stderr);
    super('command_failed', `${command} failed (exit ${exitCode ?? 'signal'})${tail ? `: ${tail}` : ''}`, options);
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** The user pressed Ctrl-C (or the process got SIGTERM); what the command made was undone. */
export class InterruptedError extends DollyError {
  constructor(message = 'interrupted', options: DollyErrorOptions = {}) {
    super('interrupted', message, options);
  }
}

/** A bug: something that should not happen. */
export class InternalError extends DollyError {
  constructor(message: string, options: DollyErrorOptions = {}) {
    super('internal', message, options);
  }
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.at(-1) ?? '';
}

/** The message of any thrown value, for logs. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** True when `error` (or its cause chain) is a Node system error with this code (ENOSPC, ENOENT, ...). */
export function hasErrnoCode(error: unknown, code: string): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth += 1) {
    if (typeof current === 'object' && 'code' in current && (current as { code: unknown }).code === code) return true;
    if (current instanceof DollyError && current instanceof CommandFailedError && current.stderr.includes(code === 'ENOSPC' ? 'No space left on device' : code)) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}
