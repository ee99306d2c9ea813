import type { ErrorCategory } from '../errors.js';

/** The one place where error categories become process exit codes. */
export const EXIT_CODES: Record<ErrorCategory, number> = {
  internal: 1,
  invalid_argument: 2,
  not_found: 3,
  already_exists: 4,
  failed_precondition: 5,
  resource_exhausted: 6,
  permission_denied: 7,
  unavailable: 8,
  source: 9,
  command_failed: 10,
  unauthenticated: 11,
  rate_limited: 12,
  interrupted: 130,
};

/** A command that ran another program which already reported its failure (one line, on stderr): only its exit code is left to give. */
export class ReportedFailure extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
