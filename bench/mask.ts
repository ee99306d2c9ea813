/**
 * dolly's masking benchmark (issue 21), in one run on MariaDB 10.11:
 * - masking throughput: `dolly snapshot mask` of a prepared snapshot, MB/s of the masked tables'
 *   data and indexes (and rows/s), beside `snapshot create` of the same data unmasked;
 * - space: what the masked snapshot holds alone (btrfs exclusive bytes: the rewritten tables and
 *   the new undo and redo), against the size of the masked tables;
 * - clone ready on the masked snapshot against the unmasked one, alternating, median of N each
 *   (target ≤ 1.1×: clones must not pay for masking); and what masking each clone as it is made
 *   would cost instead (the per-clone products' way): ready + masking time.
 *
 *   node --import tsx bench/mask.ts [--quick] [--size MB] [--clones N] [--json [FILE]]
 *
 * Its roots are /var/tmp/dolly-bench-mask-*; everything is removed at the end, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { createDockerClient } from '../src/docker/client.js';
import { DEFAULT_IMAGE } from '../src/docker/image-build.js';
import { startProductionServer } from '../src/demo/production-server.js';
import { Resources } from './cleanup.js';
import { destroyClone, dollyJson, ReplicaInitSchema, timeCloneCreate } from './dolly.js';
import { machineInfo } from './machine.js';
import { abort, liveChildren, log, MiB, round, spread, type Spread } from './util.js';

const quick = process.argv.includes('--quick');
const sizeIndex = process.argv.indexOf('--size');
const sizeMb = sizeIndex >= 0 ? Number(process.argv[sizeIndex + 1]) : quick ? 100 : 256;
const clonesIndex = process.argv.indexOf('--clones');
const cloneRuns = clonesIndex >= 0 ? Number(process.argv[clonesIndex + 1]) : quick ? 3 : 5;
const jsonIndex = process.argv.indexOf('--json');
const jsonFile = jsonIndex < 0 ? null : process.argv[jsonIndex + 1]?.startsWith('--') === false ? process.argv[jsonIndex + 1] : `bench/results-mask${quick ? '-quick' : ''}.json`;
const tag = `${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;
const prefix = `/var/tmp/dolly-bench-mask-${tag}`;
const password = randomBytes(12).toString('base64url');
const resources = new Resources();

const RULES = `tables:
  shop.users:
    email: email
    full_name: name
    phone: phone
    birth_date: { date_shift: 365d }
    national_id: null
  shop.orders:
    email: email
`;

const SnapshotJson = z.object({ id: z.string(), prepare_ms: z.number(), volume: z.string(), masked: z.boolean().optional(), mask_ms: z.number().optional(), mask_bytes: z.number().optional(), mask_rows: z.number().optional() });
const ListJson = z.array(z.object({ id: z.string(), exclusive_bytes: z.number().nullable() }));

/** Rows per byte of the two tables, roughly: a user row and an order row come to about 160 bytes with their indexes. */
const BYTES_PER_USER = 80;

async function main(): Promise<Record<string, unknown>> {
  const root = `${prefix}-root`;
  log(`▶ MariaDB 10.11: source with about ${sizeMb} MB of users and orders`);
  const source = await startProductionServer({ docker: createDockerClient(), root: `${prefix}-source`, image: DEFAULT_IMAGE, rootPassword: password, name: 'bench-mask', flavor: 'mariadb' });
  resources.addServer(source, `${prefix}-source`);
  const users = Math.max(1000, Math.round((sizeMb * MiB) / BYTES_PER_USER / 2));
  const sql = await source.sql();
  try {
    for (const statement of [
      'CREATE DATABASE shop',
      'CREATE TABLE shop.users (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, full_name VARCHAR(100), phone VARCHAR(30), birth_date DATE, national_id VARCHAR(20), plan VARCHAR(20)) DEFAULT CHARSET utf8mb4',
      'CREATE TABLE shop.orders (id INT PRIMARY KEY, user_id INT NOT NULL, email VARCHAR(120), total DECIMAL(10,2), KEY (user_id)) DEFAULT CHARSET utf8mb4',
      `INSERT INTO shop.users SELECT seq, CONCAT('user', seq, '@mail', seq % 97, '.example.com'), CONCAT('First', seq % 1000, ' Last', seq), CONCAT('+49-151-', LPAD(seq, 8, '0')), DATE('1950-01-01') + INTERVAL (seq % 20000) DAY, CONCAT('NID', seq), 'gold' FROM shop.seq_1_to_${users}`,
      `INSERT INTO shop.orders SELECT seq, 1 + (seq % ${users}), CONCAT('user', 1 + (seq % ${users}), '@mail', (1 + (seq % ${users})) % 97, '.example.com'), (seq % 500) + 0.99 FROM shop.seq_1_to_${users}`,
    ]) {
      await sql.execute(statement);
    }
  } finally {
    await sql.close();
  }
  resources.addRoot(root);
  await dollyJson(root, ['init', '--driver', 'btrfs', '--size', `${Math.ceil((sizeMb * 6) / 1024) + 4}G`, '--ports', '7180-7199', '--image', DEFAULT_IMAGE], z.unknown());
  const { value: init } = await dollyJson(root, ['replica', 'init', '--source', `mysql://root@127.0.0.1:${source.port}`], ReplicaInitSchema, { DOLLY_SOURCE_PASSWORD: password });
  log(`  replica: ${round(init.copied_bytes / MiB)} MiB copied in ${init.seconds} s`);
  const unmaskedStarted = performance.now();
  const { value: base } = await dollyJson(root, ['snapshot', 'create'], SnapshotJson);
  const snapshotS = round((performance.now() - unmaskedStarted) / 1000, 1);
  log(`  unmasked snapshot ${base.id}: ${snapshotS} s (prepare ${round(base.prepare_ms / 1000, 1)} s)`);
  const rulesFile = `${prefix}-rules.yaml`;
  await writeFile(rulesFile, RULES);
  await dollyJson(root, ['mask', 'set', rulesFile], z.unknown());
  const maskStarted = performance.now();
  const { value: masked } = await dollyJson(root, ['snapshot', 'mask', base.id], SnapshotJson);
  const maskS = round((performance.now() - maskStarted) / 1000, 1);
  const maskBytes = masked.mask_bytes ?? 0;
  const mbPerS = round(maskBytes / MiB / maskS, 1);
  log(`  masked snapshot ${masked.id}: ${maskS} s for ${round(maskBytes / MiB)} MiB of masked tables (${mbPerS} MB/s, ${round((masked.mask_rows ?? 0) / maskS)} rows/s)`);
  const { value: list } = await dollyJson(root, ['snapshot', 'list'], ListJson);
  const exclusive = list.find((s) => s.id === masked.id)?.exclusive_bytes ?? null;
  const ready = { masked: [] as number[], unmasked: [] as number[] };
  for (let i = 1; i <= cloneRuns; i += 1) {
    for (const [kind, snapshot, extra] of [['masked', masked.id, []], ['unmasked', base.id, ['--unmasked']]] as const) {
      const { run } = await timeCloneCreate(root, `${kind}-${i}`, snapshot, extra);
      ready[kind].push(run.total_ms);
      await destroyClone(root, `${kind}-${i}`);
    }
  }
  const m = spread(ready.masked);
  const u = spread(ready.unmasked);
  log(`  clone ready: masked median ${round(m.median)} ms, unmasked ${round(u.median)} ms (${round(m.median / u.median, 2)}×)`);
  return {
    data_bytes: init.copied_bytes,
    rows: { users, orders: users },
    unmasked_snapshot_s: snapshotS,
    mask: { seconds: maskS, masked_table_bytes: maskBytes, mb_per_s: mbPerS, rows: masked.mask_rows ?? 0, rows_per_s: round((masked.mask_rows ?? 0) / maskS) },
    masked_snapshot_exclusive_bytes: exclusive,
    clone_ready_ms: { masked: m, unmasked: u, ratio: round(m.median / u.median, 2) },
    mask_per_clone_ms: round(m.median + maskS * 1000),
  };
}

function render(r: Record<string, unknown> & { mask?: { seconds: number; masked_table_bytes: number; mb_per_s: number; rows_per_s: number }; clone_ready_ms?: { masked: Spread; unmasked: Spread; ratio: number }; masked_snapshot_exclusive_bytes?: number | null; mask_per_clone_ms?: number; unmasked_snapshot_s?: number }): string {
  if (!r.mask || !r.clone_ready_ms) return 'no figures';
  const mib = (b: number | null | undefined): string => (b === null || b === undefined ? 'n/a' : `${round(b / MiB)} MiB`);
  return [
    '| figure | value |',
    '|---|---|',
    `| masked tables (data + indexes) | ${mib(r.mask.masked_table_bytes)} |`,
    `| masking (\`snapshot mask\`, once per snapshot) | ${r.mask.seconds} s = ${r.mask.mb_per_s} MB/s, ${r.mask.rows_per_s} rows/s |`,
    `| unmasked \`snapshot create\` of the same data | ${r.unmasked_snapshot_s} s |`,
    `| pool space the masked snapshot holds alone | ${mib(r.masked_snapshot_exclusive_bytes)} |`,
    `| clone ready, masked snapshot (median) | ${round(r.clone_ready_ms.masked.median)} ms |`,
    `| clone ready, unmasked snapshot (median) | ${round(r.clone_ready_ms.unmasked.median)} ms |`,
    `| masked ÷ unmasked (target ≤ 1.1×) | ${r.clone_ready_ms.ratio}× |`,
    `| a clone masked as it is made (ready + masking) | ${round((r.mask_per_clone_ms ?? 0) / 1000, 1)} s |`,
  ].join('\n');
}

/** Ctrl-C or SIGTERM: the children stop, what the bench made is removed, then it exits. */
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
function onSignal(signal: NodeJS.Signals): void {
  log(`${signal}: stopping, then removing what the bench made`);
  abort.abort();
  for (const child of liveChildren()) child.kill('SIGINT');
  void (async () => {
    for (let i = 0; i < 100 && liveChildren().length > 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    await resources.cleanupAll();
    await rm(`${prefix}-rules.yaml`, { force: true });
    process.exit(130);
  })();
}

let failed: unknown = null;
const results: Record<string, unknown> = {
  command: `node --import tsx bench/mask.ts ${process.argv.slice(2).join(' ')}`.trim(),
  at: new Date().toISOString(),
  machine: await machineInfo('/var/tmp'),
  size_mb: sizeMb,
  target: 'clone ready on a masked snapshot ≤ 1.1× an unmasked one; masking paid once per snapshot',
};
try {
  Object.assign(results, await main());
} catch (error) {
  failed = error;
} finally {
  await resources.cleanupAll();
  await rm(`${prefix}-rules.yaml`, { force: true });
}
if (jsonFile) await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${render(results)}\n`);
if (failed !== null) {
  log(`FAILED: ${failed instanceof Error ? failed.message : String(failed)}`);
  process.exit(1);
}
