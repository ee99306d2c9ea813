/**
 * dolly's Swarm benchmark: the seed's topology on a 3-node sandbox. Sandbox up → deploy →
 * replication running across nodes (with data on the source), then a snapshot and clones on the
 * pool node through the Swarm (clone ready: command start → the bench's SELECT 1 from this host),
 * beside the seed's way on the same node: the replica's files copied into a container under
 * FLUSH TABLES WITH READ LOCK and `docker commit`ted.
 *
 *   node --import tsx bench/swarm.ts [--quick] [--json [FILE]]
 *
 * Needs what `make bench` needs, and the images dolly/loadgen:0.2.0 and dolly/swarm-node. Its
 * root is /var/tmp/dolly-bench-swarm-<tag>; everything is removed at the end, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createDockerClient } from '../src/docker/client.js';
import { createEngineDeps } from '../src/engine/context.js';
import { teardown } from '../src/engine/lifecycle.js';
import { initPool } from '../src/engine/pool-init.js';
import { createLogger } from '../src/log.js';
import { connectSql } from '../src/mysql/sql-client.js';
import { swarmBootstrap, swarmReplicaConnect } from '../src/swarm/deploy/bootstrap.js';
import { swarmDeploy, swarmDestroy, waitForServices, type SwarmDeps } from '../src/swarm/deploy/swarm-deploy.js';
import { swarmTarget } from '../src/swarm/deploy/swarm-target.js';
import { sourceSql } from '../src/swarm/deploy/tasks.js';
import { sandboxDown, sandboxUp } from '../dev/sandbox/sandbox.js';
import { buildTopology } from '../src/swarm/topology.js';
import { sandboxTopologyConfig } from '../src/swarm/topology-config.js';
import { destroyClone, dollyJson, SnapshotSchema, timeCloneCreate } from './dolly.js';
import { log, MiB, round, spread } from './util.js';

const quick = process.argv.includes('--quick');
const jsonIndex = process.argv.indexOf('--json');
const jsonFile = jsonIndex < 0 ? null : (process.argv[jsonIndex + 1] ?? `bench/results-swarm${quick ? '-quick' : ''}.json`);
const dataBytes = (quick ? 100 : 500) * MiB;
const runs = quick ? 3 : 5;
const root = `/var/tmp/dolly-bench-swarm-${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const logger = createLogger('warn');
const docker = createDockerClient();

const topology = buildTopology(sandboxTopologyConfig(root, { kind: 'env', name: 'DOLLY_SOURCE_PASSWORD' }));

async function timed<T>(name: string, fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  log(`▶ ${name}`);
  const started = performance.now();
  const value = await fn();
  const seconds = round((performance.now() - started) / 1000, 2);
  log(`■ ${name}: ${seconds} s`);
  return { value, seconds };
}

/** Fills `bench.t` on the source to about `bytes` by doubling (pure SQL, inside the source's task). */
async function fillSource(swarm: SwarmDeps, bytes: number): Promise<number> {
  const sql = (text: string): Promise<string> => sourceSql(swarm.docker, swarm.engines, 'source', text);
  await sql('CREATE DATABASE bench; CREATE TABLE bench.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(1000) NOT NULL) ENGINE=InnoDB; INSERT INTO bench.t (payload) VALUES (REPEAT(SHA2(RAND(), 512), 7))');
  for (let rows = 1; rows * 1000 < bytes; rows *= 2) await sql('INSERT INTO bench.t (payload) SELECT REPEAT(SHA2(RAND(), 512), 7) FROM bench.t');
  return Number(await sql("SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = 'bench' AND table_name = 't'"));
}

/** The seed's way on the pool node: FTWRL on the replica, copy its files into a container, `docker commit` it. */
async function seedCommit(swarm: SwarmDeps): Promise<{ pause_seconds: number; image_bytes: number }> {
  const engine = swarm.engines(topology.pool.node);
  if (!engine) throw new Error('no pool node engine');
  const client = await connectSql(swarmReplicaConnect(topology));
  const name = `dolly-bench-seed-${randomBytes(3).toString('hex')}`;
  const image = `dolly-bench-seed:${randomBytes(3).toString('hex')}`;
  try {
    await client.execute('STOP SLAVE SQL_THREAD');
    await client.execute('FLUSH TABLES WITH READ LOCK');
    const started = performance.now();
    const container = await engine.createContainer({
      name,
      Image: 'dolly/mariadb:10.11',
      Entrypoint: ['sh', '-c'],
      Cmd: ['mkdir -p /var/lib/seed && cp -a /replica/. /var/lib/seed/'],
      HostConfig: { Binds: [`${topology.pool.dataDir}:/replica:ro`], NetworkMode: 'none' },
    });
    await container.start();
    const exit = (await container.wait()) as { StatusCode: number };
    if (exit.StatusCode !== 0) throw new Error(`the copy failed with ${exit.StatusCode}`);
    const [repo = '', tag = ''] = image.split(':');
    await container.commit({ repo, tag });
    const pause = (performance.now() - started) / 1000;
    const size = (await engine.getImage(image).inspect()).Size;
    const base = (await engine.getImage('dolly/mariadb:10.11').inspect()).Size;
    return { pause_seconds: round(pause, 2), image_bytes: size - base };
  } finally {
    await client.execute('UNLOCK TABLES').catch(() => undefined);
    await client.execute('START SLAVE SQL_THREAD').catch(() => undefined);
    await client.close();
    await engine.getContainer(name).remove({ force: true }).catch(() => undefined);
    await engine.getImage(image).remove({ force: true }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const deps = await createEngineDeps(root, logger);
  let swarm: SwarmDeps | undefined;
  try {
    await initPool({ size: quick ? '4G' : '8G', ports: '6000-6019', bindAddress: '0.0.0.0' }, deps);
    const up = await timed('sandbox up (3 nodes)', () => sandboxUp({ root, nodes: 3, poolPath: root }, { docker, shell: deps.shell, logger }));
    const target = await swarmTarget(root, undefined);
    const active: SwarmDeps = { docker: target.docker, engines: target.engines, logger, env: { DOLLY_SOURCE_PASSWORD: randomBytes(12).toString('base64url') } };
    swarm = active;
    const deploy = await timed('deploy → services running', async () => {
      await swarmDeploy(topology, active);
      return waitForServices(topology, active, 300_000);
    });
    const filled = await timed(`fill the source (${dataBytes / MiB} MiB)`, () => fillSource(active, dataBytes));
    const bootstrap = await timed('bootstrap → replication running', () => swarmBootstrap(topology, active));
    const snapshot = await timed('snapshot create (pool node)', async () => (await dollyJson(root, ['snapshot', 'create'], SnapshotSchema)).value);
    const clones: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      const { run } = await timeCloneCreate(root, `bench-${i}`);
      clones.push(run.total_ms);
      await destroyClone(root, `bench-${i}`);
    }
    const seed = await timed("the seed's way: FTWRL + copy + docker commit (pool node)", () => seedCommit(active));
    const results = {
      command: `node --import tsx bench/swarm.ts ${process.argv.slice(2).join(' ')}`.trim(),
      at: new Date().toISOString(),
      data_bytes: filled.value,
      sandbox_up_seconds: up.seconds,
      deploy_to_running_seconds: deploy.seconds,
      bootstrap_seconds: bootstrap.seconds,
      snapshot: { pause_ms: snapshot.value.pause_ms, prepare_ms: snapshot.value.prepare_ms, command_seconds: snapshot.seconds },
      clone_ready_ms: spread(clones),
      seed_commit: seed.value,
      placement: Object.fromEntries(deploy.value.map((s) => [s.name, s.node])),
    };
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    if (swarm) await swarmDestroy(topology, swarm).catch((error: unknown) => log(`cleanup: swarm destroy: ${String(error)}`));
    await sandboxDown({ root }, { docker, logger }).catch((error: unknown) => log(`cleanup: sandbox down: ${String(error)}`));
    await teardown({ purge: true }, await createEngineDeps(root, logger)).catch((error: unknown) => log(`cleanup: teardown: ${String(error)}`));
    await rm(root, { recursive: true, force: true });
  }
}

await main();
