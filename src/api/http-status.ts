import type { ErrorCategory } from '../errors.js';

/** The one place where error categories become HTTP statuses (the CLI's exit codes: src/cli/exit-codes.ts). */
export const HTTP_STATUS: Record<ErrorCategory, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  rate_limited: 429,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 409,
  resource_exhausted: 507,
  source: 502,
  unavailable: 503,
  interrupted: 503,
  command_failed: 500,
  internal: 500,
};

const CATEGORIES = new Set(Object.keys(HTTP_STATUS));

export function isErrorCategory(value: string): value is ErrorCategory {
  return CATEGORIES.has(value);
}
