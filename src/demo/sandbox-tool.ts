import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommandFailedError, FailedPreconditionError } from '../errors.js';

/**
 * The development sandbox (dev/sandbox: a Swarm of Docker-in-Docker nodes) is not product code:
 * nothing in src/ imports it. `dolly swarm sandbox …` and `dolly demo --swarm` run its command
 * line as a child process, from a checkout (it is run by tsx, a development dependency).
 */
export function sandboxToolPath(): string {
  // src/demo/ and dist/demo/ are both two levels under the checkout.
  const path = fileURLToPath(new URL('../../dev/sandbox/main.ts', import.meta.url));
  if (!existsSync(path)) {
    throw new FailedPreconditionError('the Swarm sandbox is a development tool and is not here', { hint: 'run it from a checkout of dolly after `make deps`' });
  }
  return path;
}

export interface SandboxToolRun {
  code: number;
  /** What it printed on stdout, when captured. */
  stdout: string;
}

/**
 * Runs `dev/sandbox/main.ts ARGS`. Its stderr (log lines, errors) is this process's; its stdout is
 * too unless `capture`. An abort sends it SIGINT, which makes it undo what it made and exit.
 */
export async function runSandboxTool(args: readonly string[], options: { capture?: boolean; signal?: AbortSignal } = {}): Promise<SandboxToolRun> {
  const tool = sandboxToolPath();
  const tsx = import.meta.resolve('tsx');
  // Its own process group: a Ctrl-C in the terminal reaches dolly only, which passes one SIGINT on
  // (a second one would make the tool quit at once instead of removing what it made).
  const child = spawn(process.execPath, ['--import', tsx, tool, ...args], { stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'], detached: true });
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  const onAbort = (): void => {
    child.kill('SIGINT');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
    return { code, stdout: Buffer.concat(chunks).toString('utf8') };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Runs `dolly swarm sandbox --json ARGS` and returns its parsed result; its one-line error is on stderr already when it fails. */
export async function sandboxToolResult(args: readonly string[], signal?: AbortSignal): Promise<unknown> {
  const run = await runSandboxTool(['--json', ...args], { capture: true, ...(signal ? { signal } : {}) });
  const command = args.find((a) => ['up', 'down', 'status', 'cut'].includes(a)) ?? '';
  if (run.code !== 0) throw new CommandFailedError(`dolly swarm sandbox ${command}`.trim(), run.code, '', { hint: 'its error is above; `dolly swarm sandbox down` removes what is left' });
  return JSON.parse(run.stdout) as unknown;
}
