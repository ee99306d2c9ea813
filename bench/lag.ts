/**
 * How fresh the replica stays under a busy source (issue 19): a durable source
 * (`innodb_flush_log_at_trx_commit=1`, `sync_binlog=1`) written by 16 connections at a steady
 * rate or as fast as it takes, while a heartbeat row gets `NOW(6)` every 100 ms; the replica's lag
 * is read every 100 ms as now minus the heartbeat it holds, or minus the load's start when it holds
 * none of this load yet (p50/p99 during the load), then the
 * time it needs after the load to reach the source's last GTID (catch-up). The same loads run
 * against a replica with the settings dolly had before (one applier thread, an fsync per
 * commit: `--apply-threads 0 --durable-commits`) and with today's defaults, one after the other
 * on the same source, so the figures sit side by side; between them, parallel workers with an
 * fsync per commit (`--durable-commits`) shows what each of the two changes gives.
 *
 *   node --import tsx bench/lag.ts [--flavor mariadb|mysql] [--seconds 20]
 *     [--loads single@1000,single@3000,single@max,multi@max,mixed@3000,mixed@max] [--json [FILE]]
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { createEngineDeps } from '../src/engine/context.js';
import { replicaConnectOptions } from '../src/engine/servers.js';
import { silentLogger } from '../src/log.js';
import { waitUntilCaughtUp } from '../src/mysql/replication.js';
import { connectSql, type ConnectOptions } from '../src/mysql/sql-client.js';
import { prepareLoadSchema, startWriteLoad, type LoadMix } from '../test/support/write-load.js';
import { Resources } from './cleanup.js';
import { dollyJson, ReplicaInitSchema } from './dolly.js';
import { machineInfo } from './machine.js';
import { argValue, log, round, sleep } from './util.js';

const flavor = argValue('--flavor', 'mariadb') === 'mysql' ? 'mysql' : 'mariadb';
const loadSeconds = Number(argValue('--seconds', '20'));
const loads = argValue('--loads', 'single@1000,single@3000,single@max,multi@max,mixed@3000,mixed@max')
  .split(',')
  .map((text) => {
    const [mix = '', rate = ''] = text.split('@');
    if (!['single', 'multi', 'mixed'].includes(mix) || !(rate === 'max' || Number(rate) > 0)) throw new Error(`--loads: ${text} is not MIX@RATE (single|multi|mixed @ a number or max)`);
    return { mix: mix as LoadMix, rate: rate === 'max' ? undefined : Number(rate) };
  });
const jsonIndex = process.argv.indexOf('--json');
const jsonFile = jsonIndex < 0 ? null : process.argv[jsonIndex + 1]?.startsWith('--') === false ? process.argv[jsonIndex + 1] : `bench/results-lag-${flavor}.json`;
const CONNECTIONS = 16;
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const prefix = `/var/tmp/dolly-bench-lag-${tag}`;
const password = randomBytes(12).toString('base64url');
const resources = new Resources();
const image = flavor === 'mysql' ? 'dolly/mysql:9.7' : DEFAULT_IMAGE;

/** The replica's settings compared: dolly's before issue 19, parallel apply alone (`--durable-commits`), and today's defaults. */
const SETTINGS = [
  { name: 'before: 1 applier, fsync per commit', flags: ['--apply-threads', '0', '--durable-commits'] },
  { name: 'parallel appliers, fsync per commit', flags: ['--durable-commits'] },
  { name: 'now: parallel appliers, commits synced each second', flags: [] },
];

interface Figure {
  settings: string;
  mix: LoadMix;
  asked: number | 'max';
  /** Transactions a second the source committed. */
  source_rate: number;
  transactions: number;
  lag_p50_s: number;
  lag_p99_s: number;
  lag_max_s: number;
  /** From the load's end until the replica applied the source's last GTID. */
  catch_up_s: number;
  errors: number;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Runs one load against the source and reads the replica's lag through it and after. */
async function measure(settings: string, source: ConnectOptions, replica: ConnectOptions, mix: LoadMix, rate: number | undefined): Promise<Figure> {
  const reader = await connectSql(replica);
  const sourceClient = await connectSql(source);
  try {
    const lags: number[] = [];
    const load = await startWriteLoad(source, { connections: CONNECTIONS, mix, heartbeatMs: 100, ...(rate !== undefined ? { rate } : {}) });
    // Until the replica holds a heartbeat of this load, it is behind by at most the load's age.
    const loadStart = Date.now() / 1000;
    const ends = performance.now() + loadSeconds * 1000;
    while (performance.now() < ends) {
      const [row] = await reader.query<{ at: unknown }>('SELECT UNIX_TIMESTAMP(at) AS at FROM load.heartbeat WHERE id = 1');
      lags.push(Math.max(0, Date.now() / 1000 - Math.max(loadStart, Number(row?.at ?? 0))));
      await sleep(100);
    }
    const figures = await load.stop();
    const caughtUp = await waitUntilCaughtUp(reader, flavor, { source: sourceClient }, 1_800_000);
    const figure: Figure = {
      settings,
      mix,
      asked: rate ?? 'max',
      source_rate: round(figures.rate),
      transactions: figures.transactions,
      lag_p50_s: round(percentile(lags, 50), 2),
      lag_p99_s: round(percentile(lags, 99), 2),
      lag_max_s: round(Math.max(...lags), 2),
      catch_up_s: round(caughtUp.waitedMs / 1000, 1),
      errors: figures.errors,
    };
    log(`${settings} | ${mix}@${rate ?? 'max'}: source ${figure.source_rate} tx/s, lag p50 ${figure.lag_p50_s} s p99 ${figure.lag_p99_s} s, catch-up ${figure.catch_up_s} s${figures.errors > 0 ? `, ${figures.errors} errors (${figures.lastError ?? ''})` : ''}`);
    return figure;
  } finally {
    await reader.close();
    await sourceClient.close();
  }
}

function render(figures: readonly Figure[]): string {
  const lines = ['| load (16 connections) | replica | source tx/s | lag p50 | lag p99 | lag max | catch-up after the load |', '|---|---|---|---|---|---|---|'];
  for (const f of figures) {
    lines.push(`| ${f.mix} @ ${f.asked} | ${f.settings} | ${f.source_rate} | ${f.lag_p50_s} s | ${f.lag_p99_s} s | ${f.lag_max_s} s | ${f.catch_up_s} s (load ${loadSeconds} s) |`);
  }
  return lines.join('\n');
}

const docker = createDockerClient();
let failed: unknown = null;
const figures: Figure[] = [];
try {
  const server = await startProductionServer({
    docker,
    root: `${prefix}-source`,
    image,
    flavor,
    rootPassword: password,
    name: `bench-lag-${tag}`,
    extraArgs: ['--innodb-flush-log-at-trx-commit=1', '--sync-binlog=1', '--max-connections=200'],
  });
  resources.addServer(server, `${prefix}-source`);
  const source: ConnectOptions = { host: '127.0.0.1', port: server.port, user: 'root', password, role: 'source' };
  await prepareLoadSchema(source);
  for (const [i, settings] of SETTINGS.entries()) {
    const root = `${prefix}-r${i}`;
    resources.addRoot(root);
    await dollyJson(root, ['init', '--driver', 'btrfs', '--size', '6G', '--ports', '7140-7149'], z.unknown());
    await dollyJson(root, ['replica', 'init', '--source', `mysql://root@127.0.0.1:${server.port}`, ...settings.flags], ReplicaInitSchema, { DOLLY_SOURCE_PASSWORD: password });
    const deps = await createEngineDeps(root, silentLogger);
    const stored = (await deps.store.read())?.replica;
    if (!stored) throw new Error('replica init made no replica');
    const replica = replicaConnectOptions(root, stored);
    for (const { mix, rate } of loads) figures.push(await measure(settings.name, source, replica, mix, rate));
    await resources.purgeRoot(root);
  }
} catch (error) {
  failed = error;
} finally {
  await resources.cleanupAll();
}
const results = { command: `node --import tsx bench/lag.ts ${process.argv.slice(2).join(' ')}`.trim(), at: new Date().toISOString(), machine: await machineInfo('/var/tmp'), flavor, load_seconds: loadSeconds, figures };
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${render(figures)}\n`);
if (failed !== null) {
  log(`FAILED: ${failed instanceof Error ? failed.message : String(failed)}`);
  process.exit(1);
}
