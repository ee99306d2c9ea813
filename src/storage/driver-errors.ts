import { hasErrnoCode, InvalidArgumentError, messageOf, ResourceExhaustedError } from '../errors.js';
import { isValidVolumeId } from './driver.js';

/** Throws InvalidArgumentError unless `id` is a valid volume id (see isValidVolumeId). */
export function assertVolumeId(id: string): void {
  if (!isValidVolumeId(id)) {
    throw new InvalidArgumentError(`invalid volume id ${JSON.stringify(id)}`, {
      hint: 'use letters, digits, `_`, `.` and `-`, starting with a letter or digit, at most 100 characters',
    });
  }
}

/**
 * True when `error` means "no space left on device": a Node ENOSPC, a command whose stderr says
 * so, or a Docker engine error whose message does (anywhere in the cause chain).
 */
export function isNoSpace(error: unknown): boolean {
  if (hasErrnoCode(error, 'ENOSPC')) return true;
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth += 1) {
    if (/no space left on device/i.test(messageOf(current))) return true;
    current = current.cause;
  }
  return false;
}

/** Rethrows `error` as ResourceExhaustedError when it is "no space left"; otherwise unchanged. */
export function mapNoSpace(error: unknown, what: string, hint: string): unknown {
  if (!isNoSpace(error)) return error;
  return new ResourceExhaustedError(`no space left in the pool while ${what}`, { hint, cause: error });
}
