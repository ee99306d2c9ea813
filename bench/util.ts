import { spawn, type ChildProcess } from 'node:child_process';

/** Median, min and max of a series, with the raw values. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  const median = n === 0 ? Number.NaN : n % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN, runs: [...values] };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The value after `name` on the command line (`--size 1024`), or `fallback`. */
export function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

export const round = (value: number, digits = 0): number => Math.round(value * 10 ** digits) / 10 ** digits;

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

export function seconds(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 600_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

export function millis(ms: number): string {
  return Number.isFinite(ms) ? (ms < 10_000 ? `${Math.round(ms)} ms` : seconds(ms)) : '—';
}

export function bytes(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—';
  if (value >= GiB) return `${(value / GiB).toFixed(2)} GiB`;
  if (value >= MiB) return `${(value / MiB).toFixed(1)} MiB`;
  return `${(value / 1024).toFixed(0)} KiB`;
}

/** Progress on stderr, with the time since the bench started. */
const benchStart = performance.now();
export function log(message: string): void {
  process.stderr.write(`[bench ${seconds(performance.now() - benchStart).padStart(8)}] ${message}\n`);
}

/** Set once Ctrl-C (or SIGTERM) arrived: no new child starts, those under way are interrupted. */
export const abort = new AbortController();

export class AbortedError extends Error {
  constructor() {
    super('interrupted');
  }
}

export function checkAborted(): void {
  if (abort.signal.aborted) throw new AbortedError();
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const live = new Set<ChildProcess>();

/** Children under way (so an interrupt can wait for them to go). */
export function liveChildren(): ChildProcess[] {
  return [...live];
}

/**
 * Runs a program (no shell) and collects its output; never rejects for a non-zero exit. `ms` is the
 * wall time from just before spawn() to the exit. Refuses to start once interrupted (unless
 * `evenIfAborted`: cleanup).
 */
export function run(command: string, args: readonly string[], options: { env?: Record<string, string>; input?: string; evenIfAborted?: boolean } = {}): Promise<RunResult> {
  if (options.evenIfAborted !== true) checkAborted();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, [...args], { env: { ...process.env, ...(options.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error) => {
      live.delete(child);
      reject(error);
    });
    child.once('close', (code) => {
      live.delete(child);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
    // A command that exits without reading its input must not crash the bench.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Like run(), but throws with the command's last stderr line when it fails. */
export async function runOk(command: string, args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  checkAborted();
  if (result.code !== 0) {
    const last = result.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${command} ${args.slice(0, 6).join(' ')} exited with ${String(result.code)}: ${last}`);
  }
  return result;
}
