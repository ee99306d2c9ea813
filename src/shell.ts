import { $ } from 'zx';
import { CommandFailedError } from './errors.js';

export interface ShellResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export interface ShellOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** Extra environment (secrets go here, never into arguments). */
  env?: Record<string, string>;
  /** Return a non-zero exit instead of throwing. */
  nothrow?: boolean;
  signal?: AbortSignal;
}

/**
 * Runs host commands (btrfs, mount, losetup, cp, debootstrap). Arguments are passed as a list
 * and quoted by the adapter; nothing is ever built by string concatenation. A failed command
 * rejects with CommandFailedError carrying its exit code and stderr.
 */
export interface Shell {
  run(command: string, args: readonly string[], options?: ShellOptions): Promise<ShellResult>;
}

/** The zx adapter of Shell. */
export function createShell(): Shell {
  return {
    async run(command, args, options = {}) {
      const sh = $({
        quiet: true,
        nothrow: true,
        env: { ...process.env, ...(options.env ?? {}) },
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const out = await sh`${command} ${args}`;
      const result: ShellResult = { stdout: out.stdout, stderr: out.stderr, exitCode: out.exitCode };
      if (result.exitCode !== 0 && !options.nothrow) {
        throw new CommandFailedError([command, ...args.slice(0, 2)].join(' '), result.exitCode, result.stderr);
      }
      return result;
    },
  };
}
