import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { z } from 'zod';
import { run, runOk, type RunResult } from './util.js';

/** The built CLI, launched as users launch it (`make build` / `npx tsc -p tsconfig.json` first). */
export const DOLLY_BIN = process.env.DOLLY_BENCH_BIN ?? join(import.meta.dirname, '..', 'bin', 'dolly');

/** Runs `bin/dolly --root R --json ARGS` and returns its parsed JSON result (throws on failure). */
export async function dollyJson<T>(root: string, args: readonly string[], schema: z.ZodType<T>, env: Record<string, string> = {}): Promise<{ value: T; result: RunResult }> {
  const result = await runOk(DOLLY_BIN, ['--root', root, '--json', ...args], { env });
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new Error(`dolly ${args.join(' ')} printed no JSON: ${result.stdout.slice(0, 200)}`);
  }
  return { value: schema.parse(parsed), result };
}

/** `bin/dolly --root R teardown --purge`, never throwing (cleanup). */
export async function dollyPurge(root: string): Promise<RunResult> {
  return run(DOLLY_BIN, ['--root', root, '--json', 'teardown', '--purge'], { evenIfAborted: true }).catch((error: unknown) => ({ code: -1, stdout: '', stderr: String(error), ms: 0 }));
}

export const CloneViewSchema = z.object({
  name: z.string(),
  host: z.string(),
  port: z.number(),
  user: z.string(),
  password: z.string(),
  snapshot: z.string(),
  ready_ms: z.number().optional(),
});
export type CloneViewJson = z.infer<typeof CloneViewSchema>;

export const SnapshotSchema = z.object({ id: z.string(), gtid: z.string(), pause_ms: z.number(), prepare_ms: z.number() });
export const ReplicaInitSchema = z.object({ copied_bytes: z.number(), seconds: z.number(), gtid: z.string() });
export const ReplicaStatusSchema = z.object({ gtid: z.string(), io_running: z.boolean(), sql_running: z.boolean(), last_error: z.string().nullable() });
const CloneListSchema = z.array(z.object({ name: z.string(), state: z.string(), exclusive_bytes: z.number().nullable() }));
const Anything = z.unknown();

/** One clone-ready measurement. */
export interface CloneRun {
  /** Command start → the bench's own SELECT 1 answered: what a user waits for. */
  total_ms: number;
  /** Command start → the command exited (its own readiness probe answered inside). */
  command_ms: number;
  /** The bench's connect + SELECT 1 after the command returned. */
  select_ms: number;
  /** The in-process figure the command reports (createClone start → return). */
  ready_ms: number | null;
}

/** Times `clone create`, then a real connect + SELECT 1 from here. Leaves the clone running. */
export async function timeCloneCreate(root: string, name: string, snapshot?: string, extra: readonly string[] = []): Promise<{ run: CloneRun; view: CloneViewJson }> {
  const started = performance.now();
  const { value: view, result } = await dollyJson(root, ['clone', 'create', '--name', name, ...(snapshot !== undefined ? ['--snapshot', snapshot] : []), ...extra], CloneViewSchema);
  const returned = started + result.ms;
  const conn = await createConnection({ host: view.host, port: view.port, user: view.user, password: view.password, connectTimeout: 10_000 });
  try {
    await conn.query('SELECT 1');
  } finally {
    await conn.end().catch(() => undefined);
  }
  const answered = performance.now();
  return {
    run: { total_ms: answered - started, command_ms: result.ms, select_ms: answered - returned, ready_ms: view.ready_ms ?? null },
    view,
  };
}

export async function destroyClone(root: string, name: string): Promise<void> {
  await dollyJson(root, ['clone', 'destroy', name], Anything);
}

/** What an idle clone costs: its exclusive disk (`clone list`) and its container's memory. */
export interface IdleCost {
  exclusive_bytes: number | null;
  memory_bytes: number | null;
  memory_text: string;
  idle_ms: number;
  container: string;
}

export async function idleCost(root: string, name: string, idleSince: number): Promise<IdleCost> {
  const { value: clones } = await dollyJson(root, ['clone', 'list'], CloneListSchema);
  const clone = clones.find((c) => c.name === name);
  if (!clone || clone.state !== 'running') throw new Error(`idle clone ${name} is ${clone?.state ?? 'not listed'}`);
  const idle_ms = performance.now() - idleSince;
  const ps = await runOk('docker', ['ps', '-q', '--no-trunc', '--filter', `label=dolly.root=${root}`, '--filter', 'label=dolly.kind=clone', '--filter', `label=dolly.name=clone-${name}`]);
  const container = ps.stdout.trim().split('\n')[0] ?? '';
  if (container === '') throw new Error(`no container for clone ${name}`);
  const stats = await runOk('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', container]);
  const memory_text = stats.stdout.trim();
  return { exclusive_bytes: clone.exclusive_bytes, memory_bytes: parseDockerSize(memory_text.split('/')[0] ?? ''), memory_text, idle_ms, container };
}

/** `118.5MiB` → bytes (docker stats' units). */
export function parseDockerSize(text: string): number | null {
  const match = /^\s*([\d.]+)\s*([KMGT]?i?B)\s*$/i.exec(text);
  if (!match) return null;
  const unit = (match[2] ?? 'B').toUpperCase().replace('I', '');
  const scale: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
  const factor = scale[unit];
  return factor === undefined ? null : Math.round(Number(match[1]) * factor);
}

/** Waits until the replica of `root` has applied `gtid` (the source's @@gtid_binlog_pos). */
export async function waitForReplica(root: string, gtid: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { value } = await dollyJson(root, ['replica', 'status'], ReplicaStatusSchema);
    if (value.gtid === gtid) return performance.now() - started;
    if (!value.sql_running || !value.io_running) throw new Error(`replication stopped: ${value.last_error ?? 'unknown error'}`);
    if (performance.now() - started > timeoutMs) throw new Error(`the replica did not reach ${gtid} in ${timeoutMs / 1000} s (at ${value.gtid})`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
