import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDockerClient } from '../../src/docker/client.js';
import { startProductionServer, type ProductionServer } from '../../src/demo/production-server.js';
import { createClone } from '../../src/engine/clone-create.js';
import { destroyClone } from '../../src/engine/clone-manage.js';
import { initPool } from '../../src/engine/pool-init.js';
import { initReplica } from '../../src/engine/replica-init.js';
import { createSnapshot } from '../../src/engine/snapshot-create.js';
import { REPLICA, replicaConnectOptions } from '../../src/engine/servers.js';
import { countTransactions } from '../../src/mysql/gtid-count.js';
import { waitUntilCaughtUp } from '../../src/mysql/replication.js';
import { connectSql, type SqlClient } from '../../src/mysql/sql-client.js';
import { containerName } from '../../src/runtime/docker-runtime.js';
import { MARIADB_IMAGE, skipUnless } from '../support/capabilities.js';
import { createTestRoot, mysqlQuery, type TestRoot } from '../support/engine-harness.js';
import { eventually } from '../support/mysql-servers.js';
import { ACCOUNTS, loadTotals, OPENING_BALANCE, prepareLoadSchema, startWriteLoad, type WriteLoad } from '../support/write-load.js';

const PASSWORD = 'Pr0d-secret!';
const MYSQL_IMAGE = 'dolly/mysql:9.7';

/**
 * Parallel apply under a multi-connection load, on MariaDB 10.11 and MySQL 9.7: the replica runs
 * with parallel applier workers and commits synced about once a second (the defaults), 16
 * connections write transfers, updates and deletes (each transaction adds one ledger row), and:
 * every snapshot taken during the load holds exactly the transactions its GTID names (ledger rows
 * = transactions since the load began) and no torn one (balances add up); a replica killed with
 * -9 in the middle of the load comes back by itself, catches up and then equals the source table
 * by table (CHECKSUM TABLE). Real Docker, servers and btrfs.
 */
for (const engine of [
  { label: 'MariaDB 10.11', image: MARIADB_IMAGE, flavor: 'mariadb' as const, ports: '7900-7909', need: 'image' as const, workers: 'SELECT @@slave_parallel_threads AS n' },
  { label: 'MySQL 9.7', image: MYSQL_IMAGE, flavor: 'mysql' as const, ports: '7920-7929', need: 'image-mysql-9.7' as const, workers: 'SELECT @@replica_parallel_workers AS n' },
]) {
  describe(`parallel apply under load: ${engine.label}`, { skip: skipUnless('root', 'docker', engine.need, 'btrfs') }, () => {
    let root: TestRoot;
    let production: ProductionServer;
    let source: { host: string; port: number; user: string; password: string };
    let load: WriteLoad | undefined;
    /** The source's position before the load's first transaction. */
    let start = '';

    const replicaClient = async (): Promise<SqlClient> => {
      const replica = root.deps.store.require().replica;
      assert.ok(replica);
      return connectSql(replicaConnectOptions(root.root, replica));
    };

    before(async () => {
      root = await createTestRoot(`dolly-it-par-${engine.flavor}-`);
      production = await startProductionServer({ docker: createDockerClient(), root: root.root, image: engine.image, flavor: engine.flavor, rootPassword: PASSWORD, name: `it-par-${engine.flavor}` });
      source = { host: '127.0.0.1', port: production.port, user: 'root', password: PASSWORD };
      await prepareLoadSchema(source);
      await initPool({ driver: 'btrfs', size: '3G', ports: engine.ports, image: engine.image }, root.deps);
      await initReplica({ source }, root.deps);
      start = await mysqlQuery(source, engine.flavor === 'mariadb' ? 'SELECT @@GLOBAL.gtid_binlog_pos' : 'SELECT @@GLOBAL.gtid_executed');
    });

    after(async () => {
      await load?.stop();
      await root?.dispose();
      await production?.stop();
    });

    it('the replica applies with parallel workers and syncs commits about once a second', async () => {
      const client = await replicaClient();
      try {
        const [workers] = await client.query<{ n: unknown }>(engine.workers);
        assert.ok(Number(workers?.n) >= 4, `${Number(workers?.n)} workers`);
        const [flush] = await client.query<{ n: unknown }>('SELECT @@innodb_flush_log_at_trx_commit AS n');
        assert.equal(Number(flush?.n), 2);
      } finally {
        await client.close();
      }
    });

    it('snapshots taken under a 16-connection load hold exactly the transactions their GTID names, none torn', async () => {
      load = await startWriteLoad(source, { connections: 16, mix: 'mixed' });
      await eventually('the load to commit', async () => (load?.committed() ?? 0) > 200);
      for (let i = 0; i < 3; i += 1) {
        const snapshot = await createSnapshot(root.deps);
        const clone = await createClone({ name: `check-${i}` }, root.deps);
        try {
          const client = await connectSql({ host: clone.host, port: clone.port, user: clone.user, password: clone.password });
          const totals = await loadTotals(client).finally(() => client.close());
          const expected = (countTransactions(engine.flavor, snapshot.gtid) ?? Number.NaN) - (countTransactions(engine.flavor, start) ?? Number.NaN);
          assert.ok(expected > 0, `snapshot ${snapshot.id} at ${snapshot.gtid} holds no load transaction`);
          assert.equal(totals.ledger, expected, `snapshot ${snapshot.id} at ${snapshot.gtid}: ${totals.ledger} ledger rows for ${expected} transactions`);
          assert.equal(totals.balance, ACCOUNTS * OPENING_BALANCE, `snapshot ${snapshot.id}: a transfer is torn`);
          process.stderr.write(`parallel apply (${engine.label}): snapshot ${i + 1} at ${expected} load transactions, paused ${snapshot.pause_ms} ms\n`);
        } finally {
          await destroyClone(clone.name, root.deps);
        }
      }
    });

    it('a replica killed with -9 under the load comes back, catches up and equals the source', async () => {
      assert.ok(load, 'no load runs');
      const container = createDockerClient().getContainer(containerName(root.root, REPLICA));
      const before = (await container.inspect()).State;
      const committed = load.committed();
      process.kill(before.Pid, 'SIGKILL');
      await eventually('Docker to restart the killed replica', async () => {
        const state = (await container.inspect()).State;
        return state.Running && state.Pid !== before.Pid;
      }, 60_000);
      await eventually('the load to go on', async () => (load?.committed() ?? 0) > committed + 200, 60_000);
      const figures = await load.stop();
      load = undefined;
      const client = await replicaClient().catch(async () => {
        await new Promise((r) => setTimeout(r, 5_000));
        return replicaClient();
      });
      const sourceClient = await connectSql(source);
      try {
        await waitUntilCaughtUp(client, engine.flavor, { source: sourceClient }, 300_000);
        const tables = 'load.accounts, load.ledger, load.events';
        const sums = async (c: SqlClient): Promise<string> => JSON.stringify(await c.query(`CHECKSUM TABLE ${tables}`));
        assert.equal(await sums(client), await sums(sourceClient), 'the replica differs from the source');
        const totals = await loadTotals(client);
        assert.equal(totals.ledger, figures.transactions, 'the replica lost or repeated a transaction');
        assert.equal(totals.balance, ACCOUNTS * OPENING_BALANCE);
        process.stderr.write(`parallel apply (${engine.label}): ${figures.transactions} transactions at ${Math.round(figures.rate)}/s (${figures.errors} rolled back), replica killed at ${committed}; equal after catching up\n`);
      } finally {
        await client.close();
        await sourceClient.close();
      }
    });
  });
}
