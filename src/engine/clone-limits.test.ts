import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { confinement } from '../runtime/docker-runtime.js';
import { OOM_SCORE_ENGINE, protectEngineFromOom } from '../runtime/oom-score.js';
import type { ServerSpec } from '../runtime/runtime.js';
import { CLONE_CPU_SHARES, REPLICA_CPU_SHARES, cloneContainerLimits, cloneLimitSettings, cloneLimits, cloneServerArgs, parseCloneCpus, replicaContainerLimits } from './clone-limits.js';

const MiB = 1024 * 1024;

function spec(limits: ServerSpec['limits']): ServerSpec {
  return { name: 'clone-a', kind: 'clone', image: 'i', volume: 'v', data: { kind: 'path', path: '/x' }, runDir: '/r', server: { flavor: 'mariadb', serverId: 1, role: 'clone', bufferPool: '64M' }, network: 'none', ...(limits ? { limits } : {}) };
}

describe('clone limits', () => {
  it('a root made before limits existed gets the defaults: 512M with a 64M pool, one core, 50 connections', () => {
    const limits = cloneLimits({ buffer_pool: '64M' });
    assert.equal(limits.memoryBytes, 512 * MiB);
    assert.equal(limits.cpus, 1);
    assert.equal(limits.connections, 50);
    assert.equal(limits.tmpdirBytes, 224 * MiB);
    assert.equal(limits.sessionBytes, 112 * MiB);
    assert.equal(limits.tableBytes, 56 * MiB);
  });

  it('the tmpfs, the buffer pool and one session fit under the memory limit', () => {
    for (const [pool, memory] of [['64M', 256 * MiB], ['64M', 512 * MiB], ['1G', 2048 * MiB], ['128M', 8192 * MiB]] as const) {
      const limits = cloneLimits({ buffer_pool: pool, clone_memory_bytes: memory });
      assert.ok(limits.bufferPoolBytes + limits.tmpdirBytes + limits.sessionBytes < limits.memoryBytes, `${pool} in ${memory}`);
      assert.ok(limits.tableBytes <= limits.sessionBytes && limits.bufferBytes <= limits.sessionBytes);
    }
  });

  it('a clone container: memory with no swap beyond it, its tmpfs sized inside, a CPU weight below the replica, first for the OOM killer', () => {
    const limits = cloneLimits({ buffer_pool: '64M', clone_cpus: 1.5 });
    const host = confinement(spec(cloneContainerLimits(limits, 2)));
    assert.equal(host.Memory, 512 * MiB);
    assert.equal(host.MemorySwap, 512 * MiB);
    assert.equal(host.NanoCpus, 1_500_000_000);
    assert.ok((host.CpuShares ?? 0) < REPLICA_CPU_SHARES && host.CpuShares === CLONE_CPU_SHARES);
    assert.ok((host.OomScoreAdj ?? 0) > 0);
    assert.match(host.Tmpfs?.['/tmp'] ?? '', new RegExp(`size=${224 * MiB},`));
    const replica = confinement(spec(replicaContainerLimits()));
    assert.equal(replica.Memory, undefined, 'the replica has no memory limit');
    assert.ok((replica.OomScoreAdj ?? 0) < 0);
    assert.ok((replica.CpuShares ?? 0) > 1024);
    assert.match(replica.Tmpfs?.['/tmp'] ?? '', /size=1073741824,/);
  });

  it('a CPU cap above the host is cut to its cores; 0 sets none', () => {
    assert.equal(cloneContainerLimits(cloneLimits({ buffer_pool: '64M', clone_cpus: 8 }), 2).cpus, 2);
    assert.equal(cloneContainerLimits(cloneLimits({ buffer_pool: '64M', clone_cpus: 0 }), 2).cpus, undefined);
  });

  it("server flags cap what a session may raise, per flavor, and leave a server's missing options to --loose-", () => {
    const limits = cloneLimits({ buffer_pool: '64M', clone_connections: 30 });
    const mariadb = cloneServerArgs('mariadb', limits);
    for (const flag of ['--max-connections=30', `--maximum-max_heap_table_size=${56 * MiB}`, `--maximum-tmp_table_size=${56 * MiB}`, `--max-session-mem-used=${112 * MiB}`, `--maximum-max_session_mem_used=${112 * MiB}`, `--maximum-sort_buffer_size=${16 * MiB}`]) {
      assert.ok(mariadb.includes(flag), flag);
    }
    const mysql = cloneServerArgs('mysql', limits);
    for (const flag of ['--max-connections=30', `--loose-connection-memory-limit=${112 * MiB}`, '--loose-global-connection-memory-tracking=ON', `--loose-global-connection-memory-limit=${224 * MiB}`, `--temptable-max-ram=${112 * MiB}`, '--loose-temptable-max-mmap=0']) {
      assert.ok(mysql.includes(flag), flag);
    }
    assert.ok(!mysql.some((f) => f.includes('session-mem-used') || f.includes('aria')), 'no MariaDB-only option reaches MySQL');
    assert.ok(!mariadb.some((f) => f.includes('connection-memory') || f.includes('temptable')), 'no MySQL-only option reaches MariaDB');
  });

  it('init checks its options before anything is made: one-line errors with a hint', () => {
    assert.deepEqual(cloneLimitSettings({}, '64M'), { clone_memory_bytes: 512 * MiB, clone_cpus: 1, clone_connections: 50 });
    assert.deepEqual(cloneLimitSettings({ cloneMemory: '1G', cloneCpus: '0.5', cloneConnections: '20' }, '256M'), { clone_memory_bytes: 1024 * MiB, clone_cpus: 0.5, clone_connections: 20 });
    assert.throws(() => cloneLimitSettings({ cloneMemory: '128M' }, '64M'), (e: unknown) => e instanceof InvalidArgumentError && /too little/.test(e.message) && /256M/.test(e.hint ?? ''));
    assert.throws(() => cloneLimitSettings({ cloneConnections: '1' }, '64M'), InvalidArgumentError);
    assert.throws(() => cloneLimitSettings({ cloneConnections: 'lots' }, '64M'), InvalidArgumentError);
    assert.throws(() => parseCloneCpus('3', 2), (e: unknown) => e instanceof InvalidArgumentError && /0\.01 to 2/.test(e.hint ?? ''));
    assert.throws(() => parseCloneCpus('-1', 2), InvalidArgumentError);
    assert.equal(parseCloneCpus('0', 2), 0);
  });

  it('the engine lowers its own OOM score, and says so when it may not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dolly-oom-'));
    try {
      const file = join(dir, 'oom_score_adj');
      await writeFile(file, '0\n');
      const warnings: string[] = [];
      assert.equal(await protectEngineFromOom({ warn: (m) => warnings.push(m) }, file), true);
      assert.equal((await readFile(file, 'utf8')).trim(), String(OOM_SCORE_ENGINE));
      assert.equal(await protectEngineFromOom({ warn: (m) => warnings.push(m) }, join(dir, 'missing', 'x')), false);
      assert.match(warnings.join('\n'), /cannot lower the engine's OOM score/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
