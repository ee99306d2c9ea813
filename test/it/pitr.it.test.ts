import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createCloneAt, type CloneAtView } from '../../src/engine/clone-at.js';
import { destroyClone, resetClone } from '../../src/engine/clone-manage.js';
import { setPitr } from '../../src/engine/pitr-manage.js';
import { clearMask, setMask } from '../../src/engine/mask-manage.js';
import { localApi } from '../../src/api/local.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { takeBasePoint } from '../../src/engine/base-point.js';
import { listBasePoints } from '../../src/engine/base-point-store.js';
import { containerName } from '../../src/runtime/docker-runtime.js';
import { connectSql, type SqlClient } from '../../src/mysql/sql-client.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { MARIADB_IMAGE, skipUnless, type Capability } from '../support/capabilities.js';
import { createTestRoot, dolly, dollyKilled, waitCaughtUp, type TestRoot } from '../support/engine-harness.js';

const run = promisify(execFile);

const PASSWORD = 'Pr0d-root-secret!';

/** One transaction of the source's binlog, as its own tool prints it: GTID, commit stamp (µs), the ledger ids it inserted. */
interface SourceTx {
  gtid: string;
  stampUs: number;
  ids: number[];
}

/**
 * The truth: the source's binlog read by the server's own tool (`mariadb-binlog`/`mysqlbinlog -v`)
 * in its container, not by dolly's reader. A transaction's time: MySQL's
 * `original_committed_timestamp` (its commit, µs); MariaDB's second of its last change (the
 * header of its last row or query event: for a one-statement transaction its commit second).
 */
async function sourceTransactions(container: string, flavor: 'mariadb' | 'mysql'): Promise<SourceTx[]> {
  const tool = flavor === 'mysql' ? 'mysqlbinlog' : 'mariadb-binlog';
  const { stdout } = await run('docker', ['exec', container, 'sh', '-c', `cd /var/lib/mysql && ${tool} --base64-output=decode-rows -v $(ls source-bin.[0-9]* | sort)`], { maxBuffer: 512 * 1024 * 1024 });
  const out: SourceTx[] = [];
  let current: SourceTx | undefined;
  let inLedger = false;
  for (const line of stdout.split('\n')) {
    const event = /^#(\d{2})(\d{2})(\d{2}) +(\d+):(\d{2}):(\d{2}) server id \d+ .*\t(Write_rows|Update_rows|Delete_rows|Query)/.exec(line);
    // MariaDB: a transaction's second is its last change's (what the replica re-logs; README).
    if (event && current && flavor === 'mariadb') current.stampUs = Date.UTC(2000 + Number(event[1]), Number(event[2]) - 1, Number(event[3]), Number(event[4]), Number(event[5]), Number(event[6])) * 1_000;
    const header = /^#(\d{2})(\d{2})(\d{2}) +(\d+):(\d{2}):(\d{2}) server id \d+ .*\bGTID\b(.*)$/.exec(line);
    if (header) {
      const [, yy, mo, dd, hh, mi, ss, rest] = header;
      const second = Date.UTC(2000 + Number(yy), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss));
      if (flavor === 'mariadb') {
        const gtid = /^\s*(\d+-\d+-\d+)/.exec(rest ?? "")?.[1];
        if (gtid) out.push((current = { gtid, stampUs: second * 1_000, ids: [] }));
      } else {
        const stamp = /original_committed_timestamp=(\d+)/.exec(rest ?? '')?.[1];
        current = { gtid: '', stampUs: Number(stamp ?? second * 1_000), ids: [] };
        out.push(current);
      }
      continue;
    }
    const next = /^SET @@SESSION.GTID_NEXT= '([^']+)'/.exec(line);
    if (next && current && flavor === 'mysql' && next[1] !== 'AUTOMATIC') current.gtid = next[1]!;
    if (/^### INSERT INTO `ledger`.`t`/.test(line)) inLedger = true;
    else if (/^### (INSERT|UPDATE|DELETE)/.test(line)) inLedger = false;
    const id = /^###\s+@1=(\d+)/.exec(line);
    if (id && inLedger && current) current.ids.push(Number(id[1]));
  }
  const found = out.filter((t) => t.gtid !== '');
  assert.ok(found.length > 0, `no transaction in the source's binlog (${stdout.length} bytes): ${stdout.slice(0, 400)}`);
  return found;
}

/** What a point holds by the rule of README's "Point-in-time clones": the prefix before the first transaction stamped after it. */
function expectedAt(txs: readonly SourceTx[], pointUs: number, flavor: 'mariadb' | 'mysql'): { ids: number[]; gtid: string } {
  const ids: number[] = [];
  let gtid = '';
  for (const tx of txs) {
    const inPoint = flavor === 'mariadb' ? Math.floor(tx.stampUs / 1e6) <= Math.floor(pointUs / 1e6) : tx.stampUs <= pointUs;
    if (!inPoint) break;
    ids.push(...tx.ids);
    gtid = tx.gtid;
  }
  return { ids, gtid };
}

/**
 * Point-in-time clones (issue 22) on one engine: a source writes a ledger (one row per
 * transaction, some transactions of several rows) while snapshots are taken; clones at random
 * points of the window hold exactly the ledger rows of the transactions the source's binlog puts
 * at or before the point (count and sum of ids), and the point's GTID; bad input is refused with
 * one line and nothing made; a clone-at killed at each failpoint leaves nothing behind.
 */
function pitrSuite(label: string, image: string, flavor: 'mariadb' | 'mysql', ports: string, needs: Capability[], points: number, randomKills: number, failpoints: readonly string[]): void {
  describe(`point-in-time clones: ${label}`, { skip: skipUnless('root', 'docker', 'btrfs', ...needs) }, () => {
    let root: TestRoot;
    let production: ProductionServer;
    let source: SqlClient;
    let txs: SourceTx[] = [];
    let windowStartUs = 0;
    let windowEndUs = 0;

    before(async () => {
      root = await createTestRoot('dolly-it-pitr-');
      const name = `it-pitr-${flavor}`;
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image, rootPassword: PASSWORD, name, flavor });
      source = await connectSql({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
      await source.execute('CREATE DATABASE ledger');
      await source.execute('CREATE TABLE ledger.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, conn INT NOT NULL, payload VARCHAR(40) NOT NULL)');
      await source.execute("INSERT INTO ledger.t (conn, payload) VALUES (0, 'before the copy')");
      await initPool({ driver: 'btrfs', size: '3G', ports, image }, root.deps);
      await initReplica({ source: { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD } }, root.deps);
      await setPitr(root.deps, 3_600);
      // The ledger: 3 writers, one row per transaction, and every 50th a transaction of 3 rows; snapshots at 3 s and 9 s.
      let stop = false;
      const writers = [1, 2, 3].map(async (conn) => {
        const c = await connectSql({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
        try {
          for (let n = 0; !stop; n += 1) {
            if (n % 50 === 49) {
              await c.execute('BEGIN');
              for (let k = 0; k < 3; k += 1) await c.execute('INSERT INTO ledger.t (conn, payload) VALUES (?, ?)', [conn, `multi ${n}.${k}`]);
              await c.execute('COMMIT');
            } else await c.execute('INSERT INTO ledger.t (conn, payload) VALUES (?, ?)', [conn, `row ${n}`]);
            if (n % 10 === 0) await new Promise((r) => setTimeout(r, 5));
          }
        } finally {
          await c.close();
        }
      });
      // Bases: a snapshot at 3 s, base points at 6 s and 12 s, a snapshot at 9 s.
      // One transaction whose COMMIT comes seconds after its first change, and a second after its last.
      const straddler = (async () => {
        const c = await connectSql({ host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD });
        try {
          await new Promise((r) => setTimeout(r, 4_000));
          await c.execute('BEGIN');
          await c.execute("INSERT INTO ledger.t (conn, payload) VALUES (9, 'straddler 1')");
          await c.query('SELECT SLEEP(1.2)');
          await c.execute("INSERT INTO ledger.t (conn, payload) VALUES (9, 'straddler 2')");
          await c.query('SELECT SLEEP(1.2)');
          await c.execute('COMMIT');
        } finally {
          await c.close();
        }
      })();
      try {
        await new Promise((r) => setTimeout(r, 3_000));
        const first = await createSnapshot(root.deps);
        windowStartUs = Date.parse(first.data_state_at) * 1_000;
        await new Promise((r) => setTimeout(r, 3_000));
        await takeBasePoint(root.deps);
        await new Promise((r) => setTimeout(r, 3_000));
        await createSnapshot(root.deps);
        await new Promise((r) => setTimeout(r, 3_000));
        await takeBasePoint(root.deps);
        await new Promise((r) => setTimeout(r, 2_000));
      } finally {
        stop = true;
        await Promise.all([...writers, straddler]);
      }
      await caughtUp();
      txs = await sourceTransactions(containerName(root.root, name), flavor);
      windowEndUs = txs.at(-1)!.stampUs;
    });

    after(async () => {
      await source?.close();
      await root?.dispose();
      await production?.stop();
    });

    const caughtUp = (): Promise<void> => waitCaughtUp(root, source, flavor);

    async function contents(view: CloneAtView): Promise<{ count: number; sum: number; gtid: string }> {
      const c = await connectSql({ host: view.host, port: view.port, user: view.user, password: view.password });
      try {
        const [row] = await c.query<{ n: unknown; s: unknown }>('SELECT COUNT(*) AS n, COALESCE(SUM(id), 0) AS s FROM ledger.t');
        return { count: Number(row?.n), sum: Number(row?.s), gtid: view.point.gtid };
      } finally {
        await c.close();
      }
    }

    it(`${points} points of the window (6 fixed, the rest random): each clone holds exactly the source's transactions at or before its point`, async () => {
      const chosen: number[] = [];
      // A transaction's own stamp (on MySQL that µs is in, one less is not), and random points.
      const inside = txs.filter((t) => t.stampUs > windowStartUs + 1_000_000);
      const exact = inside[Math.floor(inside.length / 2)]!.stampUs;
      const straddler = txs.find((t) => t.ids.length === 2) ?? assert.fail('the straddling transaction is not in the binlog');
      chosen.push(exact, exact - 1, straddler.stampUs, straddler.stampUs - 1, straddler.stampUs - 1_000_000);
      // Half a second after the newest base point: replayed from it (random points alone may all fall on snapshots).
      const newestBasePoint = listBasePoints(root.deps.store).at(-1) ?? assert.fail('no base point');
      chosen.push(Date.parse(newestBasePoint.data_state_at) * 1_000 + 500_000);
      while (chosen.length < points) chosen.push(Math.floor(windowStartUs + 1_000_000 + Math.random() * (windowEndUs - windowStartUs - 1_000_000)));
      const bases = new Set<string>();
      for (const [i, us] of chosen.entries()) {
        const at = `${new Date(Math.floor(us / 1_000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;
        const view = await createCloneAt({ at, name: `p${i}` }, root.deps);
        const want = expectedAt(txs, us, flavor);
        const got = await contents(view);
        if (got.count !== want.ids.length) {
          const c = await connectSql({ host: view.host, port: view.port, user: view.user, password: view.password });
          const rows = await c.query<{ id: unknown }>('SELECT id FROM ledger.t ORDER BY id');
          await c.close();
          const have = new Set(rows.map((r) => Number(r.id)));
          const wantSet = new Set(want.ids);
          const extra = [...have].filter((x) => !wantSet.has(x));
          const missing = want.ids.filter((x) => !have.has(x));
          const around = txs.filter((t) => t.ids.some((x) => extra.includes(x) || missing.includes(x))).map((t) => `${t.gtid}@${t.stampUs}:${t.ids.join('+')}`);
          assert.fail(`point ${at} us=${us}: extra ${extra.join(',')} missing ${missing.join(',')}; their transactions ${around.join(' ')}; want last ${want.gtid}, dolly cut ${view.point.gtid}`);
        }
        assert.deepEqual({ count: got.count, sum: got.sum }, { count: want.ids.length, sum: want.ids.reduce((a, b) => a + b, 0) }, `point ${at} (${view.point.transactions} replayed on ${view.point.base})`);
        assert.equal(view.point.gtid, want.gtid, `the point's GTID at ${at}`);
        bases.add(view.point.base.startsWith('bp-') ? 'base point' : 'snapshot');
        await destroyClone(view.name, root.deps);
      }
      assert.deepEqual([...bases].sort(), ['base point', 'snapshot'], 'points were replayed from both kinds of base');
      const state = root.deps.store.require();
      assert.equal(state.snapshots.filter((s) => s.point !== undefined).length, 0, 'a point snapshot goes with its last clone');
      assert.equal(listBasePoints(root.deps.store).length, 2);
    });

    it(`killed at ${failpoints.length} failpoints and at ${randomKills} random instants, a clone-at leaves nothing behind; the next one works`, async () => {
      const cli = (...args: string[]): string[] => ['--root', root.root, ...args];
      const at = new Date(Math.floor((windowStartUs + windowEndUs) / 2 / 1_000)).toISOString();
      const look = async (): Promise<{ clones: string[]; snapshots: string[]; volumes: string[]; servers: string[]; dirs: string[] }> => {
        const state = root.deps.store.require();
        return {
          clones: state.clones.map((c) => c.name),
          snapshots: state.snapshots.map((x) => x.id),
          volumes: (await root.deps.driver(state).list()).sort(),
          servers: (await root.deps.runtime.list()).map((x) => x.name).sort(),
          dirs: (await readdir(join(root.root, 'run'))).sort(),
        };
      };
      const clean = await look();
      const started = Date.now();
      assert.equal(await dollyKilled(cli('clone', 'create', '--at', at, '--name', 'timing'), 600_000), 'finished');
      const spanMs = Date.now() - started;
      assert.equal((await dolly(cli('clone', 'destroy', 'timing'))).code, 0);
      const kills: Array<{ env: Record<string, string>; afterMs: number; what: string }> = [
        ...failpoints.map((p) => ({ env: { DOLLY_FAILPOINT: p }, afterMs: 600_000, what: p })),
        ...Array.from({ length: randomKills }, () => Math.round(Math.random() * spanMs)).map((ms) => ({ env: {}, afterMs: ms, what: `SIGKILL after ${ms} ms of ${spanMs}` })),
      ];
      let killed = 0;
      for (const kill of kills) {
        if ((await dollyKilled(cli('clone', 'create', '--at', at, '--name', 'killed'), kill.afterMs, kill.env)) === 'killed') killed += 1;
        const up = await dolly(cli('up'));
        assert.equal(up.code, 0, `${kill.what}: up: ${up.stderr}`);
        const now = await look();
        if (now.clones.includes('killed')) {
          // Finished before the kill: a whole clone, which goes as any.
          assert.equal((await dolly(cli('clone', 'destroy', 'killed'))).code, 0);
          assert.deepEqual(await look(), clean, `${kill.what}: after destroying the finished clone`);
        } else assert.deepEqual(now, clean, `${kill.what}: something is left`);
        assert.deepEqual(root.deps.store.require().jobs, [], `${kill.what}: a job is left`);
      }
      assert.ok(killed >= failpoints.length + randomKills / 2, `only ${killed} of ${kills.length} runs were killed`);
      const after = await createCloneAt({ at, name: 'after-kills' }, root.deps);
      assert.ok(after.point.transactions >= 0);
      await destroyClone(after.name, root.deps);
    });

    it('--at-gtid: the clone ends with that transaction; `clone reset --at` moves it to another point, same port and login', async () => {
      const inside = txs.filter((t) => t.stampUs > windowStartUs + 1_000_000);
      const target = inside[Math.floor(inside.length / 3)]!;
      const view = await createCloneAt({ atGtid: target.gtid, name: 'g1' }, root.deps);
      const upTo = txs.slice(0, txs.indexOf(target) + 1).flatMap((t) => t.ids);
      const got = await contents(view);
      assert.deepEqual({ count: got.count, sum: got.sum }, { count: upTo.length, sum: upTo.reduce((a, b) => a + b, 0) });
      assert.equal(view.point.gtid, target.gtid);
      const pointsOf = (): string[] => root.deps.store.require().snapshots.filter((x) => x.point !== undefined).map((x) => x.id);
      assert.deepEqual(pointsOf(), [view.snapshot]);
      // Reset onto a later time through the CLI: the clone keeps its port and password, holds the new point, and its old point snapshot goes.
      const us = inside[Math.floor((inside.length * 2) / 3)]!.stampUs + 1;
      const at = `${new Date(Math.floor(us / 1_000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;
      const cli = await dolly(['--root', root.root, '--json', 'clone', 'reset', 'g1', '--at', at]);
      assert.equal(cli.code, 0, cli.stderr);
      const reset = JSON.parse(cli.stdout) as CloneAtView;
      assert.deepEqual({ port: reset.port, password: reset.password, user: reset.user }, { port: view.port, password: view.password, user: view.user });
      const want = expectedAt(txs, us, flavor);
      const now = await contents(reset);
      assert.deepEqual({ count: now.count, sum: now.sum, gtid: reset.point.gtid }, { count: want.ids.length, sum: want.ids.reduce((a, b) => a + b, 0), gtid: want.gtid }, `reset --at ${at}`);
      assert.deepEqual(pointsOf(), [reset.snapshot], 'the old point snapshot went with the reset');
      if (flavor === 'mariadb') {
        // Killed after its replay: the clone comes back on its point, answering, and the new point's parts go.
        const killed = await dollyKilled(['--root', root.root, 'clone', 'reset', 'g1', '--at', new Date(Math.floor(windowEndUs / 1_000)).toISOString()], 600_000, { DOLLY_FAILPOINT: 'clone-at.replayed' });
        assert.equal(killed, 'killed');
        assert.equal((await dolly(['--root', root.root, 'up'])).code, 0);
        const back = await contents(reset);
        assert.deepEqual({ count: back.count, sum: back.sum }, { count: now.count, sum: now.sum }, 'the clone is back on its point');
        assert.deepEqual(pointsOf(), [reset.snapshot], "the killed reset's point is gone");
        assert.deepEqual(root.deps.store.require().jobs, []);
      }
      for (const [args, message] of [[['--at', '-1s', '--snapshot', reset.snapshot], /cannot be combined with --snapshot/], [['--wait', '5s'], /--wait applies only to --at/]] as const) {
        const bad = await dolly(['--root', root.root, 'clone', 'reset', 'g1', ...args]);
        assert.equal(bad.code, EXIT_CODES.invalid_argument, bad.stderr);
        assert.match(bad.stderr, message);
      }
      // Reset onto a snapshot of the replica: the point snapshot, used by no clone now, goes.
      const replicaSnapshot = root.deps.store.require().snapshots.find((x) => x.point === undefined) ?? assert.fail('no snapshot');
      await resetClone(view.name, { snapshot: replicaSnapshot.id }, root.deps);
      assert.deepEqual(root.deps.store.require().snapshots.filter((x) => x.point !== undefined), [], 'the point snapshot went with the reset');
      await destroyClone(view.name, root.deps);
    });

    // On MariaDB only (masking itself is proven on both engines by mask.it): the point's own path.
    if (flavor === 'mariadb') it('with masking rules set, a point is masked after its replay: non-admins get only that; the point snapshots go with the clone', async () => {
      await setMask(root.deps, 'tables:\n  ledger.t:\n    payload: { constant: masked }\n', 'local');
      try {
        const dev = localApi(root.deps, { principal: { name: 'dev', admin: false } });
        const us = Math.floor((windowStartUs + windowEndUs) / 2);
        const at = `${new Date(Math.floor(us / 1_000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;
        await assert.rejects(dev.cloneCreate({ at, unmasked: true }), /admin/);
        const view = await dev.cloneCreate({ at, name: 'masked-point' });
        const want = expectedAt(txs, us, flavor);
        const c = await connectSql({ host: view.host, port: view.port, user: view.user, password: view.password });
        try {
          const [row] = await c.query<{ n: unknown; s: unknown; p: unknown }>("SELECT COUNT(*) AS n, SUM(id) AS s, SUM(payload <> 'masked') AS p FROM ledger.t");
          assert.deepEqual({ n: Number(row?.n), s: Number(row?.s), p: Number(row?.p) }, { n: want.ids.length, s: want.ids.reduce((a, b) => a + b, 0), p: 0 }, 'the point, every payload masked');
        } finally {
          await c.close();
        }
        const state = root.deps.store.require();
        const snapshot = state.snapshots.find((x) => x.id === view.snapshot) ?? assert.fail('no snapshot');
        assert.equal(snapshot.masked, true);
        assert.ok(snapshot.point, 'the masked point is a point snapshot');
        assert.equal(state.snapshots.find((x) => x.id === snapshot.masked_from)?.admin_only, true, 'its unmasked point is admins only');
        await destroyClone(view.name, root.deps);
        assert.deepEqual(root.deps.store.require().snapshots.filter((x) => x.point !== undefined), [], 'both point snapshots went with the clone');
      } finally {
        clearMask(root.deps, 'local');
      }
    });

    it('a point ahead of the replica: waited for within --wait and then made; else refused with where the replica is, nothing made', async () => {
      const [row] = await source.query<{ n: unknown; s: unknown }>('SELECT COUNT(*) AS n, SUM(id) AS s FROM ledger.t');
      const ahead = new Date(Date.now() + 3_000).toISOString();
      const started = Date.now();
      const made = await dolly(['--root', root.root, '--json', 'clone', 'create', '--at', ahead, '--wait', '30s', '--name', 'ahead']);
      assert.equal(made.code, 0, made.stderr);
      assert.ok(Date.now() - started >= 3_000, 'it waited for the point to pass');
      const view = JSON.parse(made.stdout) as CloneAtView;
      const got = await contents(view);
      assert.deepEqual({ count: got.count, sum: got.sum }, { count: Number(row?.n), sum: Number(row?.s) }, 'every row the source has');
      await destroyClone(view.name, root.deps);
      // A GTID the source has not written yet: refused once --wait is over, naming the replica's position.
      const last = txs.at(-1)!.gtid;
      const beyond = flavor === 'mariadb' ? last.replace(/-(\d+)$/, (_, n: string) => `-${Number(n) + 1_000}`) : last.replace(/:(\d+)$/, (_, n: string) => `:${Number(n) + 1_000}`);
      const before = root.deps.store.require();
      const refused = await dolly(['--root', root.root, 'clone', 'create', '--at-gtid', beyond, '--wait', '2s']);
      assert.equal(refused.code, EXIT_CODES.failed_precondition, refused.stderr);
      assert.match(refused.stderr, /the point is not applied yet: the replica's position is/);
      assert.deepEqual({ clones: root.deps.store.require().clones.length, snapshots: root.deps.store.require().snapshots.length }, { clones: before.clones.length, snapshots: before.snapshots.length });
    });

    it('bad input: one line, an exit code, nothing made', async () => {
      const cases: Array<[string[], keyof typeof EXIT_CODES, RegExp]> = [
        [['--at', '2026-12-07T10:14:59'], 'invalid_argument', /invalid --at/],
        [['--at', 'yesterday'], 'invalid_argument', /invalid --at/],
        [['--at', new Date(Date.now() + 3_600_000).toISOString()], 'invalid_argument', /in the future/],
        [['--at', new Date(windowStartUs / 1_000 - 3_600_000).toISOString()], 'failed_precondition', /before the window: the oldest point available is/],
        [['--at', '-1s', '--snapshot', 'x'], 'invalid_argument', /cannot be combined with --snapshot/],
        [['--at', '-1s', '--at-gtid', txs[0]!.gtid], 'invalid_argument', /do not go together/],
        [['--at-gtid', 'nonsense'], 'invalid_argument', /invalid --at-gtid/],
        [['--at-gtid', flavor === 'mariadb' ? '77-1-5' : '11111111-2222-3333-4444-555555555555:5'], 'not_found', /not in the replica's stream/],
      ];
      const before = root.deps.store.require();
      for (const [args, category, message] of cases) {
        const r = await dolly(['--root', root.root, 'clone', 'create', ...args]);
        assert.equal(r.code, EXIT_CODES[category], `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(' '));
        assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('dolly:')).length, 1, `one line: ${r.stderr}`);
      }
      const after = root.deps.store.require();
      assert.equal(after.clones.length, before.clones.length);
      assert.equal(after.snapshots.length, before.snapshots.length);
    });
  });
}

const only = process.env.DOLLY_TEST_FLAVOR;
const EVERY_FAILPOINT = ['clone-at.reserved', 'clone-at.relay-ready', 'clone-at.replaying', 'clone-at.replayed', 'clone-at.sealed', 'clone-at.started'];
// MySQL: the job's steps are the MariaDB suite's; its own are the replay server's (killed in the replay and after it).
if (only !== 'mysql') pitrSuite('MariaDB 10.11', MARIADB_IMAGE, 'mariadb', '8200-8219', ['image'], 26, 20, EVERY_FAILPOINT);
if (only !== 'mariadb') pitrSuite('MySQL 9.7', 'dolly/mysql:9.7', 'mysql', '8220-8239', ['image-mysql-9.7'], 26, 2, ['clone-at.replaying', 'clone-at.replayed']);
