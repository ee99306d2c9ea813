import { createLogger, type LogLevel, type Logger } from '../log.js';
import type { EngineDeps } from '../engine/context.js';
import { createOutput, type Output } from './output.js';

/** Global options every command sees. */
export type GlobalOptions = {
  root?: string;
  json?: boolean;
  logLevel?: string;
};

export interface CliContext {
  logger: Logger;
  out: Output;
  deps(): Promise<EngineDeps>;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export function cliContext(options: GlobalOptions): CliContext {
  const level = LEVELS.find((l) => l === options.logLevel) ?? (options.json ? 'warn' : 'info');
  const logger = createLogger(level, options.json === true);
  let deps: Promise<EngineDeps> | undefined;
  return {
    logger,
    out: createOutput(options.json === true),
    deps: () => (deps ??= import('../engine/context.js').then((m) => m.createEngineDeps(options.root, logger))),
  };
}
