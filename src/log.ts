import { createRequire } from 'node:module';
import type { Logger as PinoLogger } from 'pino';

/** The logger every part receives (a subset of pino's). Logs go to stderr; stdout is for output. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Keys whose values are never logged. */
const REDACT = ['password', '*.password', 'sourcePassword', 'adminPassword', 'admin_password'];

/**
 * A pino logger on stderr with secrets redacted by key: short readable lines for people
 * (pino-pretty), JSON lines when `json` is set (machines reading stderr).
 */
export function createLogger(level: LogLevel = 'info', json = false): Logger {
  // pino is loaded on the first log line, not at start-up: most commands log nothing on their
  // hot path, and `clone create` is measured in milliseconds.
  let base: PinoLogger | undefined;
  const logger = (): PinoLogger => {
    if (base) return base;
    const require = createRequire(import.meta.url);
    const { pino } = require('pino') as typeof import('pino');
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    const destination = json
      ? pino.destination({ dest: 2, sync: true })
      : pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true });
    base = pino({ level, base: null, redact: { paths: REDACT, censor: '[secret]' } }, destination);
    return base;
  };
  const wrap =
    (fn: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (level === 'silent') return;
      if (fields) logger()[fn](fields, msg);
      else logger()[fn](msg);
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
