/**
 * Where the time of many clone creates at once goes on this machine: wall time and CPU time (all
 * processes, from /proc/stat) of one create and of N at once, inside one process (no CLI start-up).
 * The floor for N at once is N × (CPU of one) / cores: no scheduling beats it. Then the same N
 * through the engine (`dolly serve`, N POST /v1/clones at once with an admin token), against the
 * target of 1.5 × the floor (issue 18). Needs `make build` (the engine is bin/dolly).
 *   node --import tsx bench/cpu-floor.ts [--count 16] [--json FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createDockerClient } from '../src/docker/client.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { createClone } from '../src/engine/clone-create.js';
import { destroyClone } from '../src/engine/clone-manage.js';
import { initPool } from '../src/engine/pool-init.js';
import { initReplica } from '../src/engine/replica-init.js';
import { createSnapshot } from '../src/engine/snapshot-create.js';
import { createTestRoot, mariadbQuery } from '../test/support/engine-harness.js';
import { MARIADB_IMAGE } from '../test/support/capabilities.js';
import { adminToken, spawnEngine } from '../test/support/engine-server.js';

/** Busy CPU seconds of the whole machine so far (user + nice + system + irq + softirq + steal). */
function busySeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

async function measured<T>(fn: () => Promise<T>): Promise<{ wall: number; cpu: number; value: T }> {
  const cpu = busySeconds();
  const wall = performance.now();
  const value = await fn();
  return { wall: (performance.now() - wall) / 1000, cpu: busySeconds() - cpu, value };
}

const { values } = parseArgs({ options: { count: { type: 'string', default: '16' }, json: { type: 'string' } } });
const count = Number(values.count);
const password = 'Cpu-floor-1!';
const root = await createTestRoot('dolly-cpu-floor-');
const production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: MARIADB_IMAGE, rootPassword: password, name: 'cpu-floor-source' });
try {
  const source = { host: '127.0.0.1', port: production.port, user: 'root', password };
  await mariadbQuery(source, 'CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1),(2),(3)');
  await initPool({ driver: 'btrfs', size: '4G', ports: '7100-7199' }, root.deps);
  await initReplica({ source }, root.deps);
  await createSnapshot(root.deps);
  const singles: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < 3; i += 1) {
    const one = await measured(() => createClone({ name: `one-${i}` }, root.deps));
    singles.push({ wall: one.wall, cpu: one.cpu });
    await destroyClone(`one-${i}`, root.deps);
  }
  const many = await measured(() => Promise.all(Array.from({ length: count }, (_, i) => createClone({ name: `many-${i}` }, root.deps))));
  for (let i = 0; i < count; i += 1) await destroyClone(`many-${i}`, root.deps);
  // The same through the engine: its HTTP API, its job journal, its policy checks.
  const engine = await spawnEngine(root.root);
  let viaEngine: { wall: number; cpu: number };
  try {
    const headers = { authorization: `Bearer ${await adminToken(root.root)}`, 'content-type': 'application/json' };
    const call = async (method: string, path: string, body?: object): Promise<void> => {
      const response = await fetch(`${engine.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    };
    viaEngine = await measured(() => Promise.all(Array.from({ length: count }, (_, i) => call('POST', '/v1/clones', { name: `api-${i}` }))));
    for (let i = 0; i < count; i += 1) await call('DELETE', `/v1/clones/api-${i}`);
  } finally {
    await engine.stop();
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const one = { wall: median(singles.map((s) => s.wall)), cpu: median(singles.map((s) => s.cpu)) };
  const cores = cpus().length;
  const result = {
    cores,
    one_wall_s: one.wall,
    one_cpu_s: one.cpu,
    many: count,
    many_wall_s: many.wall,
    many_cpu_s: many.cpu,
    floor_s: (count * one.cpu) / cores,
    engine_many_wall_s: viaEngine.wall,
    engine_many_cpu_s: viaEngine.cpu,
    engine_vs_floor: viaEngine.wall / ((count * one.cpu) / cores),
    target_vs_floor: 1.5,
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
} finally {
  await root.dispose();
  await production.stop();
}
