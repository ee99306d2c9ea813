import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { DollyApi } from '../src/api/api.js';
import { remoteApi } from '../src/api/remote.js';
import { spawnEngine, type EngineProcess } from '../test/support/engine-server.js';
import { parseDockerSize } from './dolly.js';
import { settlePool } from './concurrency.js';
import { runOk, spread, type Spread } from './util.js';

/** The API section of `make bench` (issue 9): clone ready through `dolly serve`, many users at once, many idle clones. */
export interface ApiFigure {
  /** Request → the bench's own first query answered, per data size label. */
  ready: Record<string, number[]>;
  concurrent: { clones: number; users: number; wall_ms: number; each: Spread; p95_ms: number; failures: number };
  fleet: { clones: number; first_ms: number; last_ms: number; memory_each_bytes: number | null; memory_total_bytes: number | null };
}

/** A running engine on a bench root, with an admin and four user tokens. */
export interface ApiSession {
  engine: EngineProcess;
  admin: DollyApi;
  users: DollyApi[];
}

export async function startApi(root: string): Promise<ApiSession> {
  const engine = await spawnEngine(root, ['--log-level', 'warn']);
  const token = (await readFile(join(root, 'admin.token'), 'utf8')).trim();
  const admin = remoteApi({ url: engine.url, token });
  const users: DollyApi[] = [];
  for (const name of ['ann', 'ben', 'cat', 'dan']) {
    const existing = (await admin.tokenList()).find((t) => t.name === name && t.revoked_at === null);
    if (existing) await admin.tokenRevoke(name);
    users.push(remoteApi({ url: engine.url, token: (await admin.tokenCreate({ name })).token }));
  }
  return { engine, admin, users };
}

/** POST /v1/clones, then a real connect + SELECT 1 from here: what a CI job waits for. */
async function timedCreate(api: DollyApi, name: string, snapshot?: string): Promise<number> {
  const started = performance.now();
  const view = await api.cloneCreate({ name, ...(snapshot !== undefined ? { snapshot } : {}) });
  const conn = await createConnection({ host: view.host, port: view.port, user: view.user, password: view.password, connectTimeout: 10_000 });
  try {
    await conn.query('SELECT 1');
  } finally {
    await conn.end().catch(() => undefined);
  }
  return performance.now() - started;
}

export async function apiReady(session: ApiSession, root: string, label: string, runs: number, snapshot: string | undefined, figure: ApiFigure, log: (line: string) => void): Promise<void> {
  const times: number[] = (figure.ready[label] ??= []);
  const [user] = session.users;
  if (!user) return;
  for (let i = 0; i < runs; i += 1) {
    await settlePool(root);
    const name = `api-${label.replace(/\W/g, '').toLowerCase()}-${i}`;
    const ms = await timedCreate(user, name, snapshot);
    times.push(ms);
    await user.cloneDestroy(name);
    log(`  API ${label}: ready ${Math.round(ms)} ms`);
  }
}

export async function apiConcurrent(session: ApiSession, root: string, count: number, figure: ApiFigure, log: (line: string) => void): Promise<void> {
  await settlePool(root);
  const started = performance.now();
  const runs = await Promise.allSettled(Array.from({ length: count }, (_, i) => timedCreate(session.users[i % session.users.length] ?? session.admin, `api-c${i}`)));
  const wall = performance.now() - started;
  const ok = runs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  for (const r of runs) if (r.status === 'rejected') log(`  API concurrent create failed: ${String(r.reason)}`);
  for (let i = 0; i < count; i += 1) await session.admin.cloneDestroy(`api-c${i}`).catch(() => undefined);
  const sorted = [...ok].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? 0;
  figure.concurrent = { clones: count, users: session.users.length, wall_ms: wall, each: spread(ok), p95_ms: p95, failures: count - ok.length };
  log(`  API ${count} at once by ${session.users.length} users: ${Math.round(wall)} ms, p95 ${Math.round(p95)} ms, ${count - ok.length} failed`);
}

/** `count` idle clones, one after another: the create time of the last vs the first, and the memory each holds. */
export async function apiFleet(session: ApiSession, root: string, count: number, figure: ApiFigure, log: (line: string) => void): Promise<void> {
  await settlePool(root);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) times.push(await timedCreate(session.users[i % session.users.length] ?? session.admin, `api-f${i}`));
    await new Promise((r) => setTimeout(r, 5_000));
    const ps = await runOk('docker', ['ps', '-q', '--filter', `label=dolly.root=${root}`, '--filter', 'label=dolly.kind=clone']);
    const ids = ps.stdout.trim().split('\n').filter((l) => l !== '');
    const stats = await runOk('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', ...ids]);
    const memory = stats.stdout.trim().split('\n').map((l) => parseDockerSize(l.split('/')[0] ?? '')).filter((m): m is number => m !== null);
    const total = memory.reduce((a, b) => a + b, 0);
    figure.fleet = { clones: count, first_ms: times[0] ?? 0, last_ms: times.at(-1) ?? 0, memory_each_bytes: memory.length ? Math.round(total / memory.length) : null, memory_total_bytes: memory.length ? total : null };
    log(`  ${count} idle clones: first ${Math.round(times[0] ?? 0)} ms, last ${Math.round(times.at(-1) ?? 0)} ms, ${Math.round(total / Math.max(1, memory.length) / 1048576)} MiB each`);
  } finally {
    for (let i = 0; i < count; i += 1) await session.admin.cloneDestroy(`api-f${i}`).catch(() => undefined);
  }
}

export function emptyApiFigure(): ApiFigure {
  return { ready: {}, concurrent: { clones: 0, users: 0, wall_ms: 0, each: spread([]), p95_ms: 0, failures: 0 }, fleet: { clones: 0, first_ms: 0, last_ms: 0, memory_each_bytes: null, memory_total_bytes: null } };
}
